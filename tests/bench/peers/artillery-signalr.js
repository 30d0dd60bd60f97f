// Artillery processor for the `make bench` peer (tests/bench/run.sh, sections peers and peers_wss): the classic
// SignalR handshake that the ws engine cannot do by itself. `negotiate` is the scenario's connect function: it GETs
// /signalr/negotiate with Node's http module (https for a wss:// target), URL-encodes the ConnectionToken into the
// connect URL and hands that to the engine, which opens the WebSocket. Keys alternate K0/K1 per virtual user, like
// the intake scenario. Over TLS both requests verify the server against Node's CA store, which run.sh extends with
// the bench's test CA through NODE_EXTRA_CA_CERTS (nothing here turns verification off). `opened`, the step after
// the connect, appends the WebSocket's opening time (from the negotiate's answer to the engine's `open`: TCP, TLS
// and the upgrade) in ms to the file SIGNALR_OPEN_TIMES names, one line per user: the ws engine times none itself.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { performance } = require('perf_hooks');

const CDATA = encodeURIComponent(JSON.stringify([{ name: 'resourceeventhub' }]));
let next = 0; // per worker: which key the next virtual user subscribes to
const openLog = process.env.SIGNALR_OPEN_TIMES
  ? fs.createWriteStream(process.env.SIGNALR_OPEN_TIMES, { flags: 'a' })
  : null;

function negotiate(wsArgs, context, done) {
  const base = new URL(wsArgs.target.replace(/^ws/, 'http'));
  const tls = base.protocol === 'https:';
  const path = `/signalr/negotiate?clientProtocol=1.5&connectionData=${CDATA}`;
  const req = (tls ? https : http).get({ host: base.hostname, port: base.port, path, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => {
      let token;
      try {
        token = JSON.parse(body).ConnectionToken;
      } catch (e) {
        return done(new Error(`negotiate: HTTP ${res.statusCode}, not JSON`));
      }
      if (res.statusCode !== 200 || !token) return done(new Error(`negotiate: HTTP ${res.statusCode}`));
      wsArgs.target = `${tls ? 'wss' : 'ws'}://${base.host}/signalr/connect?transport=webSockets&clientProtocol=1.5` +
        `&connectionToken=${encodeURIComponent(token)}&connectionData=${CDATA}`;
      context.vars.key = `K${next++ % 2}`;
      context.vars.openT0 = performance.now();
      return done();
    });
  });
  req.setTimeout(30000, () => req.destroy(new Error('negotiate: timeout')));
  req.on('error', (e) => done(e));
}

function opened(context, events, done) {
  if (openLog && context.vars.openT0 !== undefined) {
    openLog.write(`${(performance.now() - context.vars.openT0).toFixed(3)}\n`);
  }
  return done();
}

module.exports = { negotiate, opened };
