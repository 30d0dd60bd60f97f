// Artillery processor for the `make bench` peer (tests/bench/run.sh, section peers): the classic SignalR handshake
// that the ws engine cannot do by itself. `negotiate` is the scenario's connect function: it GETs
// /signalr/negotiate with Node's http module, URL-encodes the ConnectionToken into the connect URL and hands that
// to the engine, which opens the WebSocket. Keys alternate K0/K1 per virtual user, like the intake scenario.
'use strict';
const http = require('http');

const CDATA = encodeURIComponent(JSON.stringify([{ name: 'resourceeventhub' }]));
let next = 0; // per worker: which key the next virtual user subscribes to

function negotiate(wsArgs, context, done) {
  const base = new URL(wsArgs.target.replace(/^ws/, 'http'));
  const path = `/signalr/negotiate?clientProtocol=1.5&connectionData=${CDATA}`;
  const req = http.get({ host: base.hostname, port: base.port, path, agent: false }, (res) => {
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
      wsArgs.target = `ws://${base.host}/signalr/connect?transport=webSockets&clientProtocol=1.5` +
        `&connectionToken=${encodeURIComponent(token)}&connectionData=${CDATA}`;
      context.vars.key = `K${next++ % 2}`;
      return done();
    });
  });
  req.setTimeout(30000, () => req.destroy(new Error('negotiate: timeout')));
  req.on('error', (e) => done(e));
}

module.exports = { negotiate };
