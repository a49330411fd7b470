"""Cloud Task `escalation_timeout`: fired at the workspace timeout; escalates only if still unanswered."""
from utalk import tasks
from utalk.models.escalations import TimeoutTask
from utalk.services import escalation


@tasks.task_handler("escalation_timeout", body=TimeoutTask)
def timeout(task: TimeoutTask):
    return escalation.check_timeout(task.workspaceId, task.conversationId, task.messageId)
