"""Escalation endpoints: manual escalation, (re)assignment, return-to-bot, accept and reject."""
from utalk import http
from utalk.models.escalations import AssignBody, EscalateBody, RejectBody
from utalk.services import escalation


@http.endpoint("conversations_escalate", role="agent", body=EscalateBody)
def escalate(call: http.Call):
    result = escalation.escalate_manually(call.principal, call.params["conversationId"], call.body.reason,
                                          call.body.skills)
    return result, 201 if result["created"] else 200


@http.endpoint("conversations_assign", role="agent", body=AssignBody)
def assign(call: http.Call):
    return escalation.assign(call.principal, call.params["conversationId"], call.body.agentId)


@http.endpoint("conversations_return_to_bot", role="agent")
def return_to_bot(call: http.Call):
    return escalation.return_to_bot(call.principal, call.params["conversationId"])


@http.endpoint("escalations_accept", role="agent")
def accept(call: http.Call):
    return escalation.accept(call.principal, call.params["escalationId"])


@http.endpoint("escalations_reject", role="agent", body=RejectBody)
def reject(call: http.Call):
    return escalation.reject(call.principal, call.params["escalationId"], call.body.reason)
