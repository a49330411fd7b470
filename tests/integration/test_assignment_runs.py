"""Assignment runs of different workspaces proceed in parallel while one workspace's never overlap
(services/assignment_runs.py): runs called at once, as overlapping deliveries of the queue would
be, report when they held their workspace's lease; a run finding it held leaves one follow-up."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import pytest

from bot_support import agent_doc, customer_says, escalations, new_agents, quiet_workspace, ws_doc
from helpers import call_internal
from messaging_support import wait_for, workspace

WAITING = 12
pytestmark = pytest.mark.timeout(300)     # each test makes two busy workspaces: dozens of webhooks and calls


def busy_workspace(api):
    """A workspace with WAITING pending escalations and two offline agents (`online()` brings
    them online without an event, once every workspace is ready: a follow-up run still due
    would otherwise drain the first workspace while the second is being made)."""
    ws = workspace(api)
    quiet_workspace(ws.id)
    agents = new_agents(api, ws, 2, status="offline", capacity=WAITING)
    with ThreadPoolExecutor(6) as pool:
        convs = [c for c, _ in pool.map(lambda i: customer_says(api, ws, f"hola {i}"), range(WAITING))]
        codes = list(pool.map(lambda c: ws.api.post(f"/api/v1/conversations/{c}/escalate", json={}).status_code,
                              convs))
    assert codes == [201] * WAITING
    wait_for(lambda: len(escalations(ws.id)) == WAITING)
    # The runs the escalations asked for, and their follow-ups, have found nobody online and are done.
    wait_for(lambda: not queued_runs(ws.id) and not lease(ws.id).get().exists, timeout=60)
    return ws, [agent_id for _, agent_id in agents]


def two_busy_workspaces(api) -> list[tuple]:
    """Two of them, made side by side (each is a few dozen webhooks and API calls)."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: busy_workspace(api), range(2)))


def online(*workspaces) -> None:
    """Every agent of these (workspace, agent ids) online, nothing telling the assignment queue."""
    for ws, agents in workspaces:
        for agent_id in agents:
            ws_doc(ws.id).collection("agents").document(agent_id).update({"status": "online"})


def queued_runs(ws_id: str) -> list:
    """This workspace's assignment runs the local Cloud Tasks still holds (due or running)."""
    from utalk import clients, tasks

    return [t for t in clients.tasks().list_tasks(parent=tasks.queue_path("assignments"))
            if ws_id.encode() in t.http_request.body]


def lease(ws_id: str):
    return ws_doc(ws_id).collection("leases").document("assignment")


def overlap(a: dict, b: dict) -> bool:
    return a["heldFrom"] < b["heldUntil"] and b["heldFrom"] < a["heldUntil"]


def test_two_workspaces_runs_overlap_while_one_workspaces_runs_never_do(api):
    (first, first_agents), (second, second_agents) = two_busy_workspaces(api)
    online((first, first_agents), (second, second_agents))
    calls = [first.id, second.id] * 4
    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda ws_id: (ws_id, call_internal(api, "assignment_run", {"workspaceId": ws_id},
                                                                      timeout=60)), calls))
    assert all(r.status_code == 200 for _, r in answers), [r.text for _, r in answers]
    ran = {ws_id: [r.json() for w, r in answers if w == ws_id and "heldFrom" in r.json()]
           for ws_id in (first.id, second.id)}
    busy = [r.json() for _, r in answers if r.json().get("busy")]
    for ws_id, runs in ran.items():
        assert runs, f"no run of {ws_id} held its lease"
        assert not any(overlap(a, b) for a, b in combinations(runs, 2)), runs   # one at a time
    assert any(overlap(a, b) for a in ran[first.id] for b in ran[second.id])   # side by side
    assert len(busy) + sum(map(len, ran.values())) == len(calls)

    # Whoever ran, every escalation was assigned once and no agent went over its capacity.
    for ws, agents in ((first, first_agents), (second, second_agents)):
        escs = wait_for(lambda: [e for e in escalations(ws.id) if e["status"] == "assigned"] == escalations(ws.id)
                        and escalations(ws.id))
        assert len(escs) == WAITING
        assert sum(agent_doc(ws.id, a)["currentConversations"] for a in agents) == WAITING
    # The lease is given back, and the follow-ups the busy runs left found nothing more to do.
    wait_for(lambda: not lease(first.id).get().exists and not lease(second.id).get().exists)


def test_through_the_queue_two_workspaces_are_assigned_side_by_side_each_exactly_once(api):
    """The same, delivered by the local Cloud Tasks from the `assignments` queue as production
    would: several runs asked for each workspace at once. Each escalation's `assignedAt` is its
    assignment transaction's commit time; the two workspaces' assignments interleave in time (a
    platform-wide queue of concurrency 1 would drain one workspace, then the other), and none is
    assigned twice nor any agent past its capacity although the runs were asked for at once."""
    from utalk.models.escalations import AssignmentTask
    from utalk import tasks

    (first, first_agents), (second, second_agents) = two_busy_workspaces(api)
    online((first, first_agents), (second, second_agents))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda ws_id: tasks.enqueue("assignment_run", AssignmentTask(workspaceId=ws_id)),
                      [first.id, second.id] * 4))
    spans = {}
    for ws, agents in ((first, first_agents), (second, second_agents)):
        escs = wait_for(lambda: [e for e in escalations(ws.id) if e["status"] == "assigned"] == escalations(ws.id)
                        and escalations(ws.id), timeout=90)
        assert len(escs) == WAITING
        assert sum(agent_doc(ws.id, a)["currentConversations"] for a in agents) == WAITING
        times = sorted(e["assignedAt"] for e in escs)
        spans[ws.id] = (times[0], times[-1])
    (a_first, a_last), (b_first, b_last) = spans[first.id], spans[second.id]
    assert a_first < b_last and b_first < a_last, spans          # side by side, not one after the other
    wait_for(lambda: not lease(first.id).get().exists and not lease(second.id).get().exists)
