"""One trace id per inbound message: the webhook takes it from X-Cloud-Trace-Context (or starts
one), the Pub/Sub attribute and the Cloud Tasks header carry it, and every function of the chain
logs under it (Cloud Logging's `logging.googleapis.com/trace`), read here from the gateway's log."""
from __future__ import annotations

import json
import uuid

from bot_support import new_customer, outbound, set_settings
from messaging_support import INBOUND, conv_id, inbound_form, sign, wait_for, workspace

CHAIN = {"twilio_inbound", "bot_dispatch", "bot_run", "message_sender"}


def _lines(stack, since: int) -> list[dict]:
    with open(stack.state_dir / "gateway.log", "rb") as f:
        f.seek(since)
        return [json.loads(line) for line in f.read().splitlines() if line.startswith(b"{")]


def _functions_under(stack, since: int, trace: str) -> set[str]:
    return {line.get("function") for line in _lines(stack, since)
            if line.get("logging.googleapis.com/trace") == trace} & CHAIN


def _say(api, ws, text: str, headers: dict) -> str:
    customer = new_customer()
    form = inbound_form(ws.number, customer, text)
    r = api.session.post(api.base + INBOUND, data=form, timeout=30,
                         headers={"X-Twilio-Signature": sign(api, INBOUND, form), **headers})
    assert r.status_code == 200, r.text
    conv = conv_id(customer, ws.number)
    wait_for(lambda: [m for m in outbound(ws.id, conv) if m["status"] in ("sent", "delivered")])
    return conv


def test_an_inbound_messages_trace_follows_it_through_every_function(api, stack):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "offline", "escalation.timeoutHours": 0, "bot.faq": [
        {"keywords": ["horario"], "answer": "Abrimos de 9 a 18 h.", "intent": "hours"}]})
    since = (stack.state_dir / "gateway.log").stat().st_size
    trace_id = uuid.uuid4().hex
    _say(api, ws, "¿horario?", {"X-Cloud-Trace-Context": f"{trace_id}/123;o=1"})
    trace = f"projects/{stack.project}/traces/{trace_id}"
    assert wait_for(lambda: _functions_under(stack, since, trace) == CHAIN, timeout=30)

    # Without the header the webhook starts the trace, and the chain still shares it.
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    _say(api, ws, "¿y el horario del sábado?", {"X-Request-Id": request_id})
    [started] = [line["logging.googleapis.com/trace"] for line in _lines(stack, since)
                 if line.get("requestId") == request_id and line.get("function") == "twilio_inbound"]
    assert started != trace
    assert wait_for(lambda: _functions_under(stack, since, started) == CHAIN, timeout=30)
