"""Pub/Sub `message-received` -> schedule the unanswered-timeout check and enqueue the bot run."""
from utalk import logs, pubsub
from utalk.models.common import MessageTask
from utalk.services import bot

log = logs.get("sub_bot")


@pubsub.push_handler("bot_dispatch")
def dispatch(msg: pubsub.PushMessage):
    """Answering acknowledges; only what a retry can fix asks for redelivery (utalk.internal)."""
    ids = msg.attributes_as(MessageTask)
    result = bot.dispatch(ids.workspaceId, ids.conversationId, ids.messageId)
    log.info("dispatched %s", ids.messageId, extra={"workspaceId": ids.workspaceId,
                                                     "conversationId": ids.conversationId, **result})
    return result
