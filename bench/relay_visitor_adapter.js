'use strict';
// Message-format adapter for harness/bench.js (../shared/bench/socketio-peer) driving the UTalk
// relay's web chat visitors. Bench room k is visitor `k`'s own id (bench/mint_tokens.py --visitors
// gives client k that visitor's token, so the relay puts it in its conversation's visitor room
// itself: run with --join none). Each bench event is what services/messaging.py publishes for a
// bot reply in that conversation: `message:new` with audience `workspace,conversation`; the relay
// derives the visitor's view (`message`, models/webchat.Shown) and emits it to the visitor's room,
// so the harness listens for `message` (--event message) and reads seq/room/t back from its text.
// The chat is BENCH_VISITOR_CHANNEL_KEY of workspace BENCH_VISITOR_WORKSPACE (env, as for the tokens).

// Event ids must be unique across runs: the relay drops ids it emitted in the last 10 minutes.
const RUN = `${Date.now().toString(36)}-${process.pid}`;
const WS = process.env.BENCH_VISITOR_WORKSPACE;
const KEY = process.env.BENCH_VISITOR_CHANNEL_KEY;

// A bot's reply as the message:new payload carries it (the visitor sees only some of its fields).
function botMessage({ seq, room, t, pad }) {
  const conversationId = `conv_web:${room}_web:${KEY}`;
  return {
    id: `msg_bench_${RUN}_${seq}`, conversationId, workspaceId: WS, messageId: null, providerId: null,
    type: 'text', text: JSON.stringify(pad ? { seq, room, t, pad } : { seq, room, t }), senderType: 'bot',
    senderId: 'bot', direction: 'outbound', status: 'queued', metadata: { bot: { intent: 'bench' } },
    createdAt: new Date().toISOString(),
  };
}
exports.botMessage = botMessage;

exports.message = (bench) => {
  const message = botMessage(bench);
  return {
    data: { id: `bench-${RUN}-${bench.seq}`, event: 'message:new', workspaceId: WS,
      occurredAt: new Date().toISOString(), payload: { conversationId: message.conversationId, message } },
    attributes: { event: 'message:new', workspaceId: WS, audience: 'workspace,conversation',
      conversationId: message.conversationId },
  };
};

// The visitor's `message` event: {id, messageId, type, text, direction, senderType, status, createdAt}.
exports.receipt = (args) => JSON.parse(args[0].text);
