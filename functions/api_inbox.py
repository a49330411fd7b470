"""The agent's inbox, for a screen that reloads: escalations (my offers; the queue for admins) and
the agents' roster."""
from utalk import http
from utalk.models.common import Page
from utalk.models.inbox import AgentQuery, EscalationItem, EscalationQuery, RosterAgent
from utalk.services import inbox


@http.endpoint("escalations_list", role="agent", query=EscalationQuery, response=Page[EscalationItem])
def list_escalations(call: http.Call):
    items, cursor = inbox.list_escalations(call.principal, call.query)
    return {"items": [e.model_dump(mode="json") for e in items], "nextCursor": cursor}


@http.endpoint("agents_list", role="agent", query=AgentQuery, response=Page[RosterAgent])
def list_agents(call: http.Call):
    items, cursor = inbox.roster(call.principal, call.query)
    return {"items": [a.model_dump(mode="json") for a in items], "nextCursor": cursor}
