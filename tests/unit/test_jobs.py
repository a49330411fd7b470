"""The sweep of a scheduled job over a cursor: every item exactly once, however it is cut into runs."""
from utalk.jobs import JobRun, Page, advance

ITEMS = [f"ws_{i:05d}" for i in range(50_000)]


def pages(cursor, size):
    start = ITEMS.index(cursor) + 1 if cursor else 0
    chunk = ITEMS[start:start + size]
    return Page(chunk, chunk[-1] if start + size < len(ITEMS) else None)


def test_fifty_thousand_items_are_swept_completely_across_continuations():
    seen: list[str] = []
    clock = iter(range(10**9)).__next__           # every page takes one "second"
    run, runs = JobRun(runId="slot"), 0
    while run is not None:
        result, run = advance(run, pages, lambda item, run_id: seen.append(item), 1000, deadline=clock() + 3,
                              clock=clock)
        runs += 1
        assert result["runId"] == "slot"
    assert seen == ITEMS and runs == 17           # 50 pages of 1,000, 3 per run (+ the last two)


def test_a_run_stops_at_its_deadline_and_says_where_to_go_on():
    result, following = advance(JobRun(runId="r"), pages, lambda item, run_id: True, 10, deadline=0)
    assert result == {"runId": "r", "processed": 10, "started": 10, "pages": 1, "done": False, "cursor": ITEMS[9]}
    assert following == JobRun(runId="r", cursor=ITEMS[9])
