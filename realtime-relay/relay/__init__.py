"""UTalk realtime relay: a Socket.IO server fed by the `realtime-events` Pub/Sub topic.

`server` assembles the app; `feed` consumes Pub/Sub; `handlers` holds the client events;
`presence`, `rate_limit`, `auth`, `rooms` and `transport` are the pieces they use.
"""
