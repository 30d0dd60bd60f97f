// The official ASP.NET SignalR 2.4.3 JS client in headless Debian Chromium over https/wss against the reference
// endpoint serving TLS (ch_browser_server --tls-cert/--tls-key, as `serve --tls-cert`). The certificates are made
// here with the openssl CLI: a test CA and a leaf for 127.0.0.1/localhost signed by it.
//
// Trust is real trust of the test CA, not an exception: the CA is added to an NSS database (certutil, Debian
// libnss3-tools) in a temporary HOME that only this Chromium sees ($HOME/.pki/nssdb, which Chromium on Linux reads
// for locally added roots, headless too). No --ignore-certificate-errors of any kind. Proof that the trust is what
// lets the client in: the same page in a Chromium with an empty HOME must fail to start (certificate refused).
//
// The page itself is served from memory by Playwright's routing for https://127.0.0.1:PORT/ and /__ch/* (so it is
// same-origin with the endpoint without a proxy); every SignalR request and the WebSocket go to the endpoint over TLS.
// Per transport: connect with a token, subscribe, receive a published Update, stop.
//
// Usage: node official-client-tls.test.mjs --server <ch_browser_server> [--transports a,b] [--timeout S]
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { control, startEndpoint } from './lib/endpoint.mjs';
import { STATIC, root } from './lib/proxy.mjs';
import { runBounded } from './lib/run.mjs';

const ALL = ['webSockets', 'serverSentEvents', 'longPolling'];
const WAIT_MS = 15000;

const args = { server: null, transports: ALL, timeout: 120 };
for (let i = 2; i < process.argv.length; i++) {
  const k = process.argv[i];
  if (k === '--server') args.server = process.argv[++i];
  else if (k === '--transports') args.transports = process.argv[++i].split(',').filter(Boolean);
  else if (k === '--timeout') args.timeout = Number(process.argv[++i]);
  else throw new Error(`unknown argument ${k}`);
}
if (!args.server) throw new Error('--server <ch_browser_server binary> is required');

const TOKEN = crypto.randomBytes(24).toString('base64url');
const redact = (s) => String(s).split(TOKEN).join('<token>');
let passed = 0;
let failed = 0;
async function step(name, fn) {
  try {
    const detail = await fn();
    passed++;
    console.log(`PASS ${name}${detail ? ` - ${redact(detail)}` : ''}`);
    return true;
  } catch (e) {
    failed++;
    console.log(`FAIL ${name} - ${redact((e && e.message) || e)}`);
    return false;
  }
}
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** The test CA and a leaf for 127.0.0.1/localhost signed by it, in dir (openssl CLI, P-256, two days). */
function makeCerts(dir) {
  const ossl = (...a) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
    '-out', 'ca.pem', '-days', '2', '-subj', '/CN=centro-harness browser test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key',
    '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

/** A HOME whose NSS database trusts the test CA for TLS servers. */
function makeTrustingHome(dir) {
  const home = path.join(dir, 'home');
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password'], { stdio: 'pipe' });
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'centro-harness test CA', '-t', 'C,,',
    '-i', path.join(dir, 'ca.pem')], { stdio: 'pipe' });
  return home;
}

/** A browser context whose page and client scripts come from memory at origin https://127.0.0.1:port. A page that
 *  did not come from the network has no address space, so Chromium's Local Network Access would block its WebSocket
 *  to loopback: the context is granted that permission, as a user would grant it. */
async function newPage(browser, port) {
  const context = await browser.newContext({ permissions: ['local-network-access'] });
  const origin = `https://127.0.0.1:${port}`;
  await context.route((url) => url.origin === origin && STATIC[url.pathname] !== undefined, (route) => {
    const [file, type] = STATIC[new URL(route.request().url()).pathname];
    route.fulfill({ status: 200, contentType: type, body: fs.readFileSync(path.join(root, file)) });
  });
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
  return { context, page, log };
}

function start(page, transport) {
  return page.evaluate(
    (o) => window.chTest.start(o).then((r) => ({ ok: true, r }), (e) => ({ ok: false, e: e.message })),
    { url: '/signalr', token: TOKEN, hub: 'ResourceEventHub', transport });
}

async function roundTrip(browser, ep, transport, part) {
  const { context, page, log } = await newPage(browser, ep.port);
  let ok = false;
  try {
    ok = await step(`official/${transport} over https: subscribe and receive an Update`, async () => {
      await page.goto(`https://127.0.0.1:${ep.port}/`);
      const s = await start(page, transport);
      expect(s.ok, `start: ${s.e}`);
      expect(s.r.transport === transport && s.r.state === 'connected', `${s.r.state} over ${s.r.transport}`);
      const url = await page.evaluate(() => window.chTest.connection.url);
      const proto = await page.evaluate(() => window.location.protocol);
      expect(proto === 'https:', `page protocol ${proto}`);
      await page.evaluate((k) => window.chTest.invoke('SubscribeToPart', k), part);
      const r = await control(ep.controlPort, '/publish', { hub: 'ResourceEventHub', key: part, count: 1 });
      expect(r.status === 200, `publish: HTTP ${r.status}`);
      await page.waitForFunction((k) => window.chTest.updates.some((u) => u && u.PartKey === k), part,
        { timeout: WAIT_MS, polling: 50 }).catch(() => { throw new Error(`no Update for ${part}`); });
      await page.evaluate(() => window.chTest.stop());
      return `${url} on ${proto}//127.0.0.1:${ep.port} (${transport === 'webSockets' ? 'wss' : 'https'})`;
    });
  } finally {
    if (!ok) for (const l of log.slice(-30)) console.log(redact(l));
    await context.close().catch(() => {});
  }
}

/** Without the CA in its NSS database Chromium must refuse the endpoint's certificate: a navigation to /ping fails
 *  with ERR_CERT_AUTHORITY_INVALID, and the client's start fails at negotiate. */
async function untrusted(browser, ep) {
  const { context, page } = await newPage(browser, ep.port);
  try {
    await step('official/longPolling over https without the test CA: refused', async () => {
      const probe = await context.newPage(); // its error page must not interrupt the client's page
      const err = await probe.goto(`https://127.0.0.1:${ep.port}/signalr/ping`).then(() => 'loaded', (e) => e.message);
      expect(err.includes('net::ERR_CERT_AUTHORITY_INVALID'), `GET /signalr/ping: ${err}`);
      await page.goto(`https://127.0.0.1:${ep.port}/`);
      const s = await start(page, 'longPolling');
      expect(!s.ok, 'the client connected although its browser does not trust the CA');
      return `${s.e} (/ping: net::ERR_CERT_AUTHORITY_INVALID)`;
    });
  } finally {
    await context.close().catch(() => {});
  }
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-browser-tls-'));
  let ep = null;
  const browsers = [];
  try {
    makeCerts(dir);
    const home = makeTrustingHome(dir);
    const empty = path.join(dir, 'empty-home');
    fs.mkdirSync(empty);
    ep = await startEndpoint(args.server, TOKEN,
      { tls: { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') } });
    console.log(`endpoint https://127.0.0.1:${ep.port}/signalr (control http://127.0.0.1:${ep.controlPort})`);
    const launch = (h) => chromium.launch({
      executablePath: '/usr/bin/chromium', headless: true, timeout: 30000, env: { ...process.env, HOME: h },
      args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
    });
    const trusting = await launch(home);
    browsers.push(trusting);
    console.log(`Chromium ${trusting.version()}`);
    let part = 1882708;
    for (const t of args.transports) await roundTrip(trusting, ep, t, String(part++));
    const plain = await launch(empty);
    browsers.push(plain);
    await untrusted(plain, ep);
  } catch (e) {
    failed++;
    console.log(`FAIL setup - ${redact((e && e.stack) || e)}`);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    if (ep) {
      const r = await ep.stop();
      if (r.code !== 0) {
        failed++;
        console.log(`FAIL endpoint shutdown - exit ${r.code}: ${redact(ep.stderr())}`);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

runBounded(main, args.timeout, () => {
  console.log(`FAIL overall timeout: the run did not finish within ${args.timeout} s`);
  console.log(`${passed} passed, ${failed + 1} failed`);
});
