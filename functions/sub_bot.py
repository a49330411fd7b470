"""Pub/Sub `message-received` -> schedule the unanswered-timeout check and enqueue the bot run."""
from utalk import errors, logs, pubsub
from utalk.services import bot

log = logs.get("sub_bot")


def dispatch(cloud_event):
    """Returning acknowledges; raising makes Pub/Sub redeliver (only for what a retry can fix)."""
    try:
        msg = pubsub.decode(cloud_event)
    except pubsub.BadPush as exc:
        log.warning("dropping undecodable push: %s", exc)
        return
    attrs = msg.attributes
    ws, conv, message_id = attrs.get("workspaceId"), attrs.get("conversationId"), attrs.get("messageId")
    if not (ws and conv and message_id):
        log.warning("dropping message-received without workspaceId/conversationId/messageId",
                    extra={"pubsubMessageId": msg.id})
        return
    try:
        result = bot.dispatch(ws, conv, message_id)
    except (errors.ApiError, ValueError) as exc:   # ids that name nothing: redelivery cannot help
        log.warning("dropping message-received %s: %s", message_id, exc)
        return
    log.info("dispatched %s", message_id, extra={"workspaceId": ws, "conversationId": conv, **result})
