"""Cloud Task `assignment_run` (queue assignments, concurrency 1): assign waiting escalations."""
from utalk import tasks
from utalk.models.escalations import AssignmentTask
from utalk.services import assignment


@tasks.task_handler("assignment_run", body=AssignmentTask)
def run(task: AssignmentTask):
    return assignment.drain(task.workspaceId)
