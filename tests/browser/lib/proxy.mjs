// A tiny loopback web server for the browser test: it serves the test page and the client scripts under /__ch/
// and reverse-proxies every other path (negotiate, start, send, abort, ping, SSE streams, long polls and
// WebSocket upgrades) to the reference endpoint, so the page and the hub are same-origin and need no CORS.
// Bodies are streamed in both directions (SSE and long-poll keep-alives must not be buffered), and a connection
// the endpoint drops is dropped towards the browser too, so the client sees what it would see without the proxy.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..');

export const STATIC = {
  '/': ['page/index.html', 'text/html; charset=utf-8'],
  '/__ch/client.js': ['page/client.js', 'application/javascript; charset=utf-8'],
  '/__ch/jquery.js': ['node_modules/jquery/dist/jquery.min.js', 'application/javascript; charset=utf-8'],
  '/__ch/jquery.signalR.js': ['node_modules/signalr/jquery.signalR.js', 'application/javascript; charset=utf-8'],
};

// Hop-by-hop headers (RFC 9110 7.6.1) are not forwarded; node sets its own framing.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardHeaders(h, host) {
  const out = {};
  for (const [k, v] of Object.entries(h)) {
    if (!HOP.has(k.toLowerCase())) out[k] = v;
  }
  if (host) out.host = host;
  return out;
}

function serveStatic(req, res) {
  if (req.url === '/favicon.ico') { // keep the browser's own request away from the endpoint's logs
    res.writeHead(204);
    res.end();
    return true;
  }
  const entry = STATIC[new URL(req.url, 'http://x').pathname];
  if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const body = fs.readFileSync(path.join(root, entry[0]));
  res.writeHead(200, { 'content-type': entry[1], 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/**
 * Starts the proxy on 127.0.0.1 with a free port. target: {host, port} of the reference endpoint.
 * Returns {port, stats, close()}; stats counts proxied requests per kind (for the test's own checks).
 */
export async function startProxy(target) {
  const upstreamHost = `${target.host}:${target.port}`;
  const stats = { http: 0, upgrades: 0, upstreamErrors: 0, commands: {} };
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    if (serveStatic(req, res)) return;
    stats.http++;
    // Count SignalR commands (the last path segment: negotiate, connect, poll, reconnect, send, ...).
    const cmd = new URL(req.url, 'http://x').pathname.split('/').pop();
    stats.commands[cmd] = (stats.commands[cmd] || 0) + 1;
    const up = http.request({
      host: target.host, port: target.port, method: req.method, path: req.url,
      headers: forwardHeaders(req.headers, upstreamHost), agent: false,
    });
    up.on('response', (ur) => {
      res.writeHead(ur.statusCode, ur.statusMessage, forwardHeaders(ur.headers));
      res.flushHeaders();
      ur.on('data', (chunk) => res.write(chunk));
      ur.on('end', () => res.end());
      // The endpoint closed mid-body (e.g. a dropped SSE stream): drop the browser's connection the same way.
      ur.on('aborted', () => res.destroy());
      ur.on('error', () => res.destroy());
    });
    up.on('error', (e) => {
      stats.upstreamErrors++;
      // Only an endpoint that is not there at all gets a 502; a reset mid-request is passed on as a reset.
      if (!res.headersSent && e.code === 'ECONNREFUSED') {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('proxy: endpoint unreachable');
      } else {
        res.destroy();
      }
    });
    req.pipe(up);
    // The browser went away (stop(), an aborted XHR): end the upstream request too.
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  });

  // WebSocket: replay the upgrade request to the endpoint and then tunnel the raw bytes both ways.
  server.on('upgrade', (req, sock, head) => {
    stats.upgrades++;
    const up = net.connect(target.port, target.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = req.rawHeaders[i];
        lines.push(k.toLowerCase() === 'host' ? `Host: ${upstreamHost}` : `${k}: ${req.rawHeaders[i + 1]}`);
      }
      up.write(lines.join('\r\n') + '\r\n\r\n');
      if (head && head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    sockets.add(up);
    sockets.add(sock);
    const kill = () => { up.destroy(); sock.destroy(); };
    up.on('error', () => { stats.upstreamErrors++; kill(); });
    sock.on('error', kill);
    up.on('close', () => { sockets.delete(up); sock.destroy(); });
    sock.on('close', () => { sockets.delete(sock); up.destroy(); });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    stats,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
