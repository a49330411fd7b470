"""Cloud Task `bot_run` (queue bot-runs: the AI rate and concurrency limits): answer one message."""
from utalk import tasks
from utalk.models.bot import BotRunTask
from utalk.services import bot


@tasks.task_handler("bot_run", body=BotRunTask)
def run(task: BotRunTask):
    return bot.run(task.workspaceId, task.conversationId, task.messageId)
