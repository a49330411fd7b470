"""Cloud Task `assignment_run` (queue assignments): assign a workspace's waiting escalations, one
run per workspace at a time (services/assignment_runs.py)."""
from utalk import tasks
from utalk.models.escalations import AssignmentTask
from utalk.services import assignment_runs


@tasks.task_handler("assignment_run", body=AssignmentTask)
def run(task: AssignmentTask):
    return assignment_runs.run(task.workspaceId, task.followUp)
