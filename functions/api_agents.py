"""Agent self-service: an agent sets its own presence (coming online takes waiting escalations)."""
from utalk import http
from utalk.models.escalations import AgentPresence, AgentStatusBody
from utalk.services import assignment


@http.endpoint("agents_set_status", role="agent", body=AgentStatusBody, response=AgentPresence, raises=(404,))
def set_status(call: http.Call):
    return assignment.set_presence(call.principal, call.body.status)
