"""Escalation endpoints: manual escalation, (re)assignment, return-to-bot, accept and reject."""
from utalk import http
from utalk.models.escalations import AssignBody, EscalateBody, EscalateResult, Escalation, RejectBody, ReturnToBotResult
from utalk.services import escalation


@http.endpoint("conversations_escalate", role="agent", body=EscalateBody,
               response={200: EscalateResult, 201: EscalateResult}, raises=(403, 404, 409))
def escalate(call: http.Call):
    result = escalation.escalate_manually(call.principal, call.params["conversationId"], call.body.reason,
                                          call.body.skills)
    return result, 201 if result["created"] else 200


@http.endpoint("conversations_assign", role="agent", body=AssignBody, response=Escalation,
               raises=(403, 404, 409))
def assign(call: http.Call):
    return escalation.assign(call.principal, call.params["conversationId"], call.body.agentId)


@http.endpoint("conversations_return_to_bot", role="agent", response=ReturnToBotResult, raises=(403, 404, 409))
def return_to_bot(call: http.Call):
    return escalation.return_to_bot(call.principal, call.params["conversationId"])


@http.endpoint("escalations_accept", role="agent", response=Escalation, raises=(403, 404, 409))
def accept(call: http.Call):
    return escalation.accept(call.principal, call.params["escalationId"])


@http.endpoint("escalations_reject", role="agent", body=RejectBody, response=Escalation, raises=(403, 404, 409))
def reject(call: http.Call):
    return escalation.reject(call.principal, call.params["escalationId"], call.body.reason)
