'use strict';
// Holds N official socket.io-client sockets open against a relay, for bench/relay_memory.py.
// argv[2]: JSON {url, tokensFile, transports?: ['websocket'], concurrency?: 100, modules: dir}
// Prints `connected <ok> <failed>` once every socket settled, then holds them until stdin closes.
const fs = require('fs');
const cfg = JSON.parse(process.argv[2]);
const { io } = require(require.resolve('socket.io-client', { paths: [cfg.modules] }));

const tokens = fs.readFileSync(cfg.tokensFile, 'utf8').split('\n').filter(Boolean);
const sockets = [];
let ok = 0, failed = 0, next = 0;

function one(tok) {
  return new Promise((resolve) => {
    const s = io(cfg.url, { transports: cfg.transports || ['websocket'], reconnection: false, forceNew: true,
                            timeout: 20000, auth: { token: tok } });
    sockets.push(s);
    s.on('connect', () => { ok++; resolve(); });
    s.on('connect_error', () => { failed++; resolve(); });
  });
}

async function lane() {
  while (next < tokens.length) await one(tokens[next++]);
}

(async () => {
  await Promise.all(Array.from({ length: cfg.concurrency || 100 }, lane));
  process.stdout.write(`connected ${ok} ${failed}\n`);
})();
process.stdin.on('end', () => { for (const s of sockets) s.disconnect(); setTimeout(() => process.exit(0), 200); });
process.stdin.resume();
