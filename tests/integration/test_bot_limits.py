"""Per-workspace AI limits on the real chain (webhook -> Pub/Sub -> Cloud Tasks -> bot_run -> the
fake OpenAI through the official client): a workspace over its rate is delayed and every message
still answered once while another workspace answers at once; never more calls at once than
`maxConcurrent`, and a crashed run's slot comes back by expiry; the token and time limits reach
the provider. The test stack's AI window is 5 s (devstack/stack.py), so `requestsPerMinute: 24`
admits 2 runs per window. No wall-clock assertions: counts and order only."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from bot_support import bot_runs, customer_says, escalations, outbound, set_settings, ws_doc
from messaging_support import wait_for, workspace

from devstack.stack import TEST_AI_WINDOW_SECONDS


def openai_workspace(api, **ai):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "openai", "escalation.timeoutHours": 0,
                            **{f"ai.{k}": v for k, v in ai.items()}})
    return ws


def all_at_once(api, ws, texts: list[str]) -> list[tuple[str, str]]:
    """Each text from its own new customer, all sent at the same time."""
    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(lambda text: customer_says(api, ws, text), texts))


def replies(ws_id: str, convs: list[str]) -> list[dict]:
    return [m for conv in convs for m in outbound(ws_id, conv)]


def sent_to_provider(ws_id: str) -> list[dict]:
    """What the sandbox provider was handed (one entry per message it sent)."""
    return [d.to_dict() for d in ws_doc(ws_id).collection("sandboxOutbox").stream()]


def test_a_workspace_over_its_rate_is_delayed_and_answered_once_while_another_is_not(api, openai_fake):
    noisy = openai_workspace(api, requestsPerMinute=24)       # 2 runs per test window
    quiet = openai_workspace(api)                             # the default 60/min
    noisy_texts = [f"consulta ruidosa {i}" for i in range(6)]
    noisy_convs = [conv for conv, _ in all_at_once(api, noisy, noisy_texts)]
    quiet_convs = [conv for conv, _ in all_at_once(api, quiet, [f"consulta tranquila {i}" for i in range(3)])]

    wait_for(lambda: len(replies(quiet.id, quiet_convs)) == 3, timeout=60)
    quiet_done = max(m["createdAt"] for m in replies(quiet.id, quiet_convs))
    wait_for(lambda: len(replies(noisy.id, noisy_convs)) == 6, timeout=90)
    wait_for(lambda: len(sent_to_provider(noisy.id)) == 6, timeout=30)

    # The quiet workspace never waited, and its replies did not queue behind the noisy backlog.
    assert [r.get("delays", 0) for r in bot_runs(quiet.id)] == [0, 0, 0]
    noisy_runs = bot_runs(noisy.id)
    assert sum(r.get("delays", 0) > 0 for r in noisy_runs) >= 6 - 2 * 2    # at most two windows' worth at once
    assert any(m["createdAt"] > quiet_done for m in replies(noisy.id, noisy_convs))
    # 2 per window: the six were admitted over at least three windows (the workspace's window
    # counters: a refused run's increment past the cap admits nothing), and the calls reaching the
    # provider spread accordingly: admissions in three windows span more than one window; the
    # margin of half a window is for a call's transit from its admission to the fake under load.
    admitted = {d.id.split("-")[0]: min(2, d.get("count")) for d in ws_doc(noisy.id).collection("aiUsage").stream()}
    assert sum(admitted.values()) == 6 and len([w for w, n in admitted.items() if n]) >= 3, admitted
    calls = sorted(t for text in noisy_texts for t in openai_fake.call_times(about=text))
    assert len(calls) == 6
    assert calls[-1] - calls[0] > TEST_AI_WINDOW_SECONDS / 2
    # Exactly once each: one LLM call, one BotRun, one reply stored, one handed to the provider.
    assert all(openai_fake.calls(about=text) == 1 for text in noisy_texts)
    assert len(noisy_runs) == 6 and sorted(len(outbound(noisy.id, c)) for c in noisy_convs) == [1] * 6
    assert sorted(m["conversationId"] for m in sent_to_provider(noisy.id)) == sorted(noisy_convs)


def test_never_more_than_max_concurrent_calls_and_a_crashed_runs_slot_expires(api, openai_fake):
    ws = openai_workspace(api, maxConcurrent=2, requestsPerMinute=6000)
    openai_fake.when("consulta lenta", latency=1.0, reply="Listo.")
    convs = [conv for conv, _ in all_at_once(api, ws, [f"consulta lenta {i}" for i in range(6)])]
    wait_for(lambda: len(replies(ws.id, convs)) == 6, timeout=60)
    assert openai_fake.peak("consulta lenta") == 2           # both slots used, never a third
    assert all(openai_fake.calls(about=f"consulta lenta {i}") == 1 for i in range(6))
    assert any(r.get("delays", 0) > 0 for r in bot_runs(ws.id))       # the others waited for a slot
    slots = ws_doc(ws.id).collection("aiLeases")
    wait_for(lambda: not list(slots.stream()))                 # every slot given back

    # A run that crashed mid-call holds the only slot and will never give it back.
    from utalk.repositories import leases
    from utalk.repositories.ai_usage import AiUsage

    set_settings(ws.id, **{"ai.maxConcurrent": 1})
    crashed = leases.acquire(AiUsage(ws.id).lease_slots(1), "crashed-run", ttl_seconds=3)
    assert isinstance(crashed, leases.Lease)
    expired_at = crashed.ref.get().get("expiresAt")
    conv, _ = customer_says(api, ws, "¿siguen ahí?")
    [reply] = wait_for(lambda: outbound(ws.id, conv), timeout=60)
    assert reply["createdAt"] >= expired_at                    # answered only once the dead lease expired
    [run] = [r for r in bot_runs(ws.id) if r["conversationId"] == conv]
    assert run.get("delays", 0) >= 1 and openai_fake.calls(about="¿siguen ahí?") == 1
    wait_for(lambda: not list(slots.stream()))


def test_the_workspace_token_and_time_limits_reach_the_provider(api, openai_fake):
    from utalk.ai.context import estimate_tokens

    ws = openai_workspace(api, maxTokensPerRequest=1000, timeoutSeconds=1)
    customer = "+5215599990001"
    for i in range(4):                                         # ~1,500 tokens of history
        conv, _ = customer_says(api, ws, f"historia {i} " + "palabra " * 190, customer=customer)
        wait_for(lambda: len(outbound(ws.id, conv)) == i + 1, timeout=30)
    [(body, headers, _)] = openai_fake.exchanges_about("historia 3")
    assert body["max_completion_tokens"] == 250                # a quarter of the request's tokens
    assert sum(estimate_tokens(m["content"]) + 4 for m in body["messages"]) <= 1000 - 250
    assert not any("historia 0" in m["content"] for m in body["messages"])   # the oldest did not fit
    assert float(headers["x-stainless-read-timeout"]) == 1.0

    # An answer slower than the workspace's 1 s (yet within the instance's 2 s ceiling) times out.
    openai_fake.hang_seconds = 1.5
    openai_fake.when_timeout("tarda mucho")
    conv, _ = customer_says(api, ws, "esto tarda mucho")
    [esc] = wait_for(lambda: escalations(ws.id), timeout=30)
    assert esc["reason"] == "timeout" and esc["conversationId"] == conv
