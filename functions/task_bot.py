"""Cloud Task `bot_run` (queue bot-runs, sized for the platform): answer one message within its
workspace's AI limits (services/bot_limits.py)."""
from utalk import tasks
from utalk.models.bot import BotRunTask
from utalk.services import bot


@tasks.task_handler("bot_run", body=BotRunTask)
def run(task: BotRunTask):
    return bot.run(task.workspaceId, task.conversationId, task.messageId, admitted=task.admitted, delays=task.delays)
