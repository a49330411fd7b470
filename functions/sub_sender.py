"""Sender (Pub/Sub `message-outbound`): delivers each queued message to its provider once."""
from utalk import logs, pubsub
from utalk.services import messaging

log = logs.get("sender")


def send(cloud_event):
    try:
        msg = pubsub.decode(cloud_event)
        attrs = msg.attributes
        ws, conv, mid = attrs["workspaceId"], attrs["conversationId"], attrs["messageId"]
    except (pubsub.BadPush, KeyError) as exc:
        log.error("unprocessable outbound delivery, dropped: %s", exc)
        return  # acknowledge: redelivering a malformed message cannot help
    # ClaimedElsewhere propagates: the push fails and Pub/Sub redelivers after its backoff.
    outcome = messaging.deliver(ws, conv, mid)
    log.info("outbound %s/%s: %s", conv, mid, outcome, extra={"workspaceId": ws})
