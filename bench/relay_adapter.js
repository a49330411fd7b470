'use strict';
// Message-format adapter for harness/bench.js (../shared/bench/socketio-peer) driving the UTalk
// relay. Bench room k is workspace `room-k` (the token of client i names workspace i % R, so the
// relay puts it in `ws:room-k` itself: run with --join none); each bench event is a
// `realtime-events` message (docs/architecture.md) with audience `workspace`.

// Event ids must be unique across runs: the relay drops ids it emitted in the last 10 minutes.
const RUN = `${Date.now().toString(36)}-${process.pid}`;

exports.message = ({ seq, room, t, event, pad }) => ({
  data: {
    id: `bench-${RUN}-${seq}`,
    event,
    workspaceId: room,
    occurredAt: new Date().toISOString(),
    payload: pad ? { seq, room, t, pad } : { seq, room, t },
  },
  attributes: { event, workspaceId: room, audience: 'workspace' },
});

// The relay emits `payload` as the event's single argument.
exports.receipt = (args) => args[0];
