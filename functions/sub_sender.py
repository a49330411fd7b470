"""Sender (Pub/Sub `message-outbound`): delivers each queued message to its provider once."""
from utalk import internal, logs, pubsub
from utalk.models.common import MessageTask
from utalk.services import messaging

log = logs.get("sender")


@pubsub.push_handler("message_sender")
def send(msg: pubsub.PushMessage):
    ids = msg.attributes_as(MessageTask)
    try:
        outcome = messaging.deliver(ids.workspaceId, ids.conversationId, ids.messageId)
    except messaging.ClaimedElsewhere as exc:   # another delivery is sending it right now: redeliver later
        raise internal.Retry(str(exc) or "claimed by another delivery") from None
    log.info("outbound %s/%s: %s", ids.conversationId, ids.messageId, outcome,
             extra={"workspaceId": ids.workspaceId})
    return {"outcome": outcome}
