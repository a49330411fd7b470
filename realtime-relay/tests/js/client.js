'use strict';
// Drives the official socket.io-client against the relay for the Python tests.
// argv[2]: JSON {url, auth?, headers?, join?: [conversationId], maxMs?, transports?}
//         (transports: default ['websocket']; ['polling', 'websocket'] is the client's own default)
// stdout: one JSON line per happening: connect_error {message, data} | connected {id, transport} |
//         upgraded {transport} | joined {conversationId, ack} | ready | event {name, args} |
//         disconnect {reason}.
// Exits on connect_error, on disconnect, when stdin closes or after maxMs.
const { io } = require('socket.io-client');

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const socket = io(cfg.url, {
  transports: cfg.transports || ['websocket'],
  reconnection: false,
  auth: cfg.auth || {},
  extraHeaders: cfg.headers || {},
  timeout: 5000,
});
setTimeout(() => process.exit(0), cfg.maxMs || 20000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

socket.on('connect_error', (err) => { out({ type: 'connect_error', message: err.message, data: err.data || null }); process.exit(0); });
socket.on('disconnect', (reason) => { out({ type: 'disconnect', reason }); process.exit(0); });
socket.onAny((name, ...args) => out({ type: 'event', name, args }));
socket.io.on('open', () => socket.io.engine.on('upgrade', (t) => out({ type: 'upgraded', transport: t.name })));
socket.on('connect', async () => {
  out({ type: 'connected', id: socket.id, transport: socket.io.engine.transport.name });
  for (const conversationId of cfg.join || []) {
    const ack = await socket.timeout(5000).emitWithAck('conversation:join', { conversationId });
    out({ type: 'joined', conversationId, ack });
  }
  out({ type: 'ready' });
});
