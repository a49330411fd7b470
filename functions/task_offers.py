"""Cloud Tasks about offers (queue escalation-timeouts): an offer's lapse, due when it expires, and
an agent who went offline or was deactivated; each checks that it still applies (fire-and-check)."""
from utalk import tasks
from utalk.models.escalations import AgentReleaseTask, OfferTask
from utalk.services import assignment


@tasks.task_handler("offer_timeout", body=OfferTask)
def expire(task: OfferTask):
    return assignment.expire_offer(task.workspaceId, task.escalationId, task.offerId)


@tasks.task_handler("agent_release", body=AgentReleaseTask)
def release_agent(task: AgentReleaseTask):
    return assignment.release_agent(task.workspaceId, task.agentId)
