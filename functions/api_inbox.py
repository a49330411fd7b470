"""The agent's inbox, for a screen that reloads: escalations (my offers; the queue for admins) and
the agents' roster."""
from utalk import http


@http.endpoint("escalations_list", role="agent")
def list_escalations(call: http.Call):
    raise NotImplementedError


@http.endpoint("agents_list", role="agent")
def list_agents(call: http.Call):
    raise NotImplementedError
