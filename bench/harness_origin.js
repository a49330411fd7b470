'use strict';
// Preloaded into harness/bench.js and its workers (NODE_OPTIONS=--require) for the visitors' runs:
// gives every WebSocket handshake the `Origin` header a browser on the shop's site sends
// (BENCH_ORIGIN), which the relay checks against the web chat's allowed origins. The harness has
// no option for it, and socket.io-client only sends one when told to; ws builds its handshake with
// `http.request` at call time, so wrapping that one function is enough.

const http = require('http');

const ORIGIN = process.env.BENCH_ORIGIN;
const request = http.request;

http.request = function requestWithOrigin(options, ...rest) {
  const headers = options && typeof options === 'object' ? options.headers : null;
  if (ORIGIN && headers && headers.Upgrade === 'websocket' && !headers.Origin) headers.Origin = ORIGIN;
  return request.call(this, options, ...rest);
};
