// Proof of the reference endpoint with clients nobody here wrote:
//  1. the official ASP.NET SignalR 2.4.3 JS client (npm signalr + jquery) in headless Debian Chromium, once per
//     transport (webSockets, serverSentEvents, longPolling): connect with a token (qs access_token), subscribe,
//     receive published Updates in HarnessSeq order, unsubscribe and receive no more, survive a server-side drop by
//     reconnecting with its groups intact and the Updates published meanwhile replayed; the same on JobEventHub
//     (serverSentEvents), and on an endpoint under a virtual directory, /Centro/signalr (longPolling);
//  2. the official client staying connected on each transport across several pings (pingInterval 1 s instead of
//     the default 5 minutes) and keep-alives (an endpoint with a 1 s keep-alive), with no error and no reconnect;
//  3. npm node-signalr over WebSockets with an Authorization header: connect, subscribe, receive Updates; refused
//     without the header.
// Prints one line per step, a summary line "N passed, M failed", and exits non-zero on any failure. Bounded: every
// wait has a timeout and the whole run is cut at --timeout seconds (default 150).
//
// Usage: node official-client.test.mjs --server <ch_browser_server> [--transports a,b] [--timeout S] [--verbose]
//        [--no-node-signalr] [--long-only] (only part 2) [--fault NAME]... (inject a server fault: the run must
//        then fail)
import crypto from 'node:crypto';
import { chromium } from 'playwright-core';
import { Client as SignalrClient } from 'node-signalr';

import { control, startEndpoint } from './lib/endpoint.mjs';
import { startProxy } from './lib/proxy.mjs';
import { runBounded } from './lib/run.mjs';

const ALL_TRANSPORTS = ['webSockets', 'serverSentEvents', 'longPolling'];
const WAIT_MS = 15000; // one step's wait; a reconnect needs 2-3 s of client back-off plus a little

function parseArgs(argv) {
  const a = { server: null, transports: ALL_TRANSPORTS, timeout: 150, verbose: false, nodeSignalr: true, faults: [],
    longOnly: false };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--server') a.server = argv[++i];
    else if (k === '--transports') a.transports = argv[++i].split(',').filter(Boolean);
    else if (k === '--timeout') a.timeout = Number(argv[++i]);
    else if (k === '--verbose') a.verbose = true;
    else if (k === '--no-node-signalr') a.nodeSignalr = false;
    else if (k === '--long-only') a.longOnly = true;
    else if (k === '--fault') a.faults.push(argv[++i]); // self-check: the run must then fail
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.server) throw new Error('--server <ch_browser_server binary> is required');
  for (const t of a.transports) {
    if (!ALL_TRANSPORTS.includes(t)) throw new Error(`unknown transport ${t}`);
  }
  return a;
}

const args = parseArgs(process.argv);
// A fresh random token per run; it is replaced by <token> in everything this script prints.
const TOKEN = crypto.randomBytes(24).toString('base64url');
const redact = (s) => String(s).split(TOKEN).join('<token>');

let passed = 0;
let failed = 0;
function report(ok, name, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` - ${redact(detail)}` : ''}`);
}

class StepError extends Error {}
function expect(cond, msg) {
  if (!cond) throw new StepError(msg);
}

/** Runs fn as a named step: PASS/FAIL line; a failure skips the rest of its scenario (returns false). */
async function step(name, fn) {
  try {
    const detail = await fn();
    report(true, name, detail);
    return true;
  } catch (e) {
    report(false, name, e instanceof StepError ? e.message : (e && e.stack) || String(e));
    return false;
  }
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new StepError(`${what}: no result within ${ms} ms`)), ms); }),
  ]);
}

// ---- hubs --------------------------------------------------------------------------------------------------------

// What differs between Centro's two hubs: their subscribe methods and the Update field naming the key.
const RESOURCE = { hub: 'ResourceEventHub', sub: 'SubscribeToPart', unsub: 'UnsubscribeFromPart', field: 'PartKey',
  noun: 'part' };
const JOB = { hub: 'JobEventHub', sub: 'SubscribeToPipeline', unsub: 'UnsubscribeFromPipeline', field: 'PipeId',
  noun: 'pipeline' };

// ---- control API -------------------------------------------------------------------------------------------------

function makeControl(port) {
  return {
    /** Publishes n Updates for a key of a hub; resolves with the control API's answer body. */
    async publish(hub, key, n = 1) {
      const r = await control(port, '/publish', { hub: hub.hub, key, count: n });
      expect(r.status >= 200 && r.status < 300,
        `POST /publish ${hub.hub} ${key} x${n}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    /** Drops the server side of every live transport connection (no abort, state kept): a network failure as the
     *  clients see it. Only the scenario's own connection is live at that point. */
    async drop() {
      const r = await control(port, '/drop', {});
      expect(r.status >= 200 && r.status < 300, `POST /drop: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      expect(r.body && r.body.dropped >= 1, `POST /drop dropped no connection: ${JSON.stringify(r.body)}`);
      return r.body;
    },
    /** The endpoint's counters (GET /stats): keepalives, connections, ... */
    async stats() {
      const r = await control(port, '/stats', {});
      expect(r.status === 200 && r.body && typeof r.body === 'object', `/stats: HTTP ${r.status}`);
      return r.body;
    },
  };
}

// ---- checks on received Updates -----------------------------------------------------------------------------------

/** HarnessSeq numbers of one key's Updates, in arrival order. */
function seqsOf(updates, field, key) {
  return updates.filter((u) => u && u[field] === key).map((u) => u.HarnessSeq);
}

function expectConsecutive(seqs, from, to, what) {
  const want = [];
  for (let s = from; s <= to; s++) want.push(s);
  expect(JSON.stringify(seqs) === JSON.stringify(want),
    `${what}: HarnessSeq ${JSON.stringify(seqs)}, expected ${JSON.stringify(want)}`);
}

// ---- the official client, one transport ---------------------------------------------------------------------------

/** A fresh browser context and page whose console and page errors are kept in log (printed when a step fails). */
async function newLoggedPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  return { context, page, log };
}

/**
 * The full scenario on one hub and transport. ep: {proxy, ctl, path, label}, where path is the endpoint path the
 * page connects to (same-origin through the proxy). keyA/keyB: two keys of the hub nobody else uses.
 */
async function officialScenario(browser, ep, hub, transport, keyA, keyB) {
  const { proxy, ctl } = ep;
  const { context, page, log } = await newLoggedPage(browser);
  const name = (s) => `official/${transport}${ep.label}: ${hub.hub}: ${s}`;
  const updates = () => page.evaluate(() => window.chTest.updates);
  const waitFor = (fn, arg, what) => page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 50 })
    .catch(() => { throw new StepError(`${what} (timed out after ${WAIT_MS} ms)`); });
  const waitCount = (key, n, what) => waitFor(
    (a) => window.chTest.updates.filter((u) => u && u[a.f] === a.k).length >= a.n, { f: hub.field, k: key, n }, what);
  const invoke = (method, key) => withTimeout(
    page.evaluate((a) => window.chTest.invoke(a.m, a.k), { m: method, k: key }), WAIT_MS, method);
  const seqs = (u, key) => seqsOf(u, hub.field, key);
  let connId = null;
  let errorsBefore = 0; // client errors expected up to here (a drop reports one on some transports)
  let ok = true;

  try {
    ok = await step(name('connect with a token'), async () => {
      await page.goto(`http://127.0.0.1:${proxy.port}/`);
      const r = await withTimeout(page.evaluate((o) => window.chTest.start(o),
        { url: ep.path, token: TOKEN, hub: hub.hub, transport }), WAIT_MS, 'start');
      expect(r.transport === transport, `connected over ${r.transport}, wanted ${transport}`);
      expect(r.state === 'connected', `state ${r.state}`);
      connId = r.id;
      return `transport ${r.transport}`;
    });

    ok = ok && await step(name(`subscribe to ${hub.noun}s ${keyA} and ${keyB}`), async () => {
      await invoke(hub.sub, keyA);
      await invoke(hub.sub, keyB);
    });

    ok = ok && await step(name('receive published Updates in order'), async () => {
      await ctl.publish(hub, keyA, 5);
      await ctl.publish(hub, keyB, 1);
      await waitCount(keyA, 5, `5 Updates for ${keyA}`);
      await waitCount(keyB, 1, `1 Update for ${keyB}`);
      const u = await updates();
      const stray = u.find((x) => !x || (x[hub.field] !== keyA && x[hub.field] !== keyB));
      expect(stray === undefined, `an Update for another ${hub.noun} arrived: ${JSON.stringify(stray)}`);
      expectConsecutive(seqs(u, keyA), 1, 5, keyA);
      expectConsecutive(seqs(u, keyB), 1, 1, keyB);
      return `${hub.field} ${keyA} HarnessSeq 1..5, ${keyB} HarnessSeq 1`;
    });

    ok = ok && await step(name(`unsubscribe from ${keyA}, then receive none of its Updates`), async () => {
      await invoke(hub.unsub, keyA);
      // A's Updates are published before B's: once B's arrives on this one connection, A's would have too.
      await ctl.publish(hub, keyA, 3);
      await ctl.publish(hub, keyB, 1);
      await waitCount(keyB, 2, `the 2nd Update for ${keyB}`);
      const u = await updates();
      expectConsecutive(seqs(u, keyA), 1, 5, `${keyA} after unsubscribe`);
      expectConsecutive(seqs(u, keyB), 1, 2, keyB);
      return `${keyA} stayed at 5 Updates while ${keyB} got HarnessSeq 2`;
    });

    ok = ok && await step(name('server-side drop: the client reconnects'), async () => {
      const before = await page.evaluate(() => window.chTest.info());
      expect(before.state === 'connected', `state before drop: ${before.state}`);
      expect(before.errors.length === 0, `client errors before the drop: ${before.errors.join(' | ')}`);
      const polls = () => (proxy.stats.commands.poll || 0) + (proxy.stats.commands.reconnect || 0);
      const pollsBefore = polls();
      await ctl.drop();
      // Published while the client is cut off (it waits 2-3 s before reconnecting): must be replayed, not lost.
      await ctl.publish(hub, keyB, 2);
      if (transport === 'longPolling') {
        // A long poll whose connection dies either fails (the client goes reconnecting and sends /reconnect after
        // 3 s) or, when the endpoint's poll body is delimited by the connection close, ends as an empty 200 that
        // the client answers with its next /poll. Both keep the connection; wait for the client's next request.
        const t0 = Date.now();
        while (polls() === pollsBefore && Date.now() - t0 < WAIT_MS) await new Promise((r) => setTimeout(r, 50));
        expect(polls() > pollsBefore, `the client sent no /poll or /reconnect within ${WAIT_MS} ms of the drop`);
      }
      const ev = await page.evaluate(() => window.chTest.events.slice());
      if (transport !== 'longPolling' || ev.includes('reconnecting')) {
        await waitFor(() => window.chTest.events.includes('reconnecting'), undefined, 'no reconnecting event after the drop');
        await waitFor(() => window.chTest.events.includes('reconnected') && window.chTest.connection.state === 1,
          undefined, 'no reconnected event after the drop');
      }
      const after = await page.evaluate(() => window.chTest.info());
      expect(after.state === 'connected', `state after the drop: ${after.state}`);
      expect(after.id === connId, 'the connection id changed: the client started a new connection');
      expect(after.transport === transport, `reconnected over ${after.transport}`);
      errorsBefore = after.errors.length;
      if (!after.events.includes('reconnecting')) {
        return 'NOTE: the dropped poll ended as a clean empty response, so the client just polled again ' +
          '(an IIS server sends chunked bodies, and the same drop is a failed poll and a reconnect)';
      }
      return `events ${after.events.join(',')}`;
    });

    ok = ok && await step(name('Updates published during the outage are replayed'), async () => {
      await waitCount(keyB, 4, `Updates 3..4 for ${keyB}, published while the client was cut off`);
      expectConsecutive(seqs(await updates(), keyB), 1, 4, `${keyB} after reconnecting`);
      return `${keyB} HarnessSeq 3..4 arrived after reconnecting`;
    });

    ok = ok && await step(name('after the drop: groups intact, delivery resumes'), async () => {
      await ctl.publish(hub, keyA, 1);
      await ctl.publish(hub, keyB, 3);
      await waitCount(keyB, 7, `Updates 5..7 for ${keyB} after reconnecting`);
      const u = await updates();
      expectConsecutive(seqs(u, keyB), 1, 7, `${keyB} across the drop`);
      expectConsecutive(seqs(u, keyA), 1, 5, `${keyA} (unsubscribed) across the drop`);
      return `${keyB} HarnessSeq 1..7 exactly once`;
    });

    if (ok) {
      await step(name('stop'), async () => {
        await page.evaluate(() => window.chTest.stop());
        await waitFor(() => window.chTest.connection.state === 4, undefined, 'state is not disconnected');
        const info = await page.evaluate(() => window.chTest.info());
        const late = info.errors.slice(errorsBefore);
        expect(late.length === 0, `client errors after reconnecting: ${late.join(' | ')}`);
      });
    }
  } finally {
    if (!ok || args.verbose) {
      console.log(`--- client log (${transport}${ep.label}, ${hub.hub}, last 40 lines) ---`);
      for (const l of log.slice(-40)) console.log(redact(l));
    }
    await context.close().catch(() => {});
  }
}

// ---- the official client, staying connected ------------------------------------------------------------------------

const PING_MS = 1000; // the client's pingInterval here (300,000 ms by default, which hid a /ping it cannot parse)
const PINGS = 3;      // pings that must be answered
const KEEPALIVES = 3; // keep-alives the endpoint must write meanwhile (one a second on the keep-alive site)

/**
 * The official client stays connected across several pings and keep-alives on one transport: at least PINGS pings
 * answered (counted in the page as the client's own requests complete) and KEEPALIVES keep-alives written (the
 * endpoint's /stats), with no client error, no reconnect or stop, the same connection, and an Update still delivered.
 * A /ping body JSON.parse refuses makes the client stop the connection at its first ping ("Failed to parse ping
 * server response, stopping the connection."). site: the endpoint with a 1 s keep-alive.
 */
async function officialLongScenario(browser, site, transport, part) {
  const { proxy, ctl } = site;
  const { context, page, log } = await newLoggedPage(browser);
  let ok = false;
  try {
    ok = await step(`official/${transport}: stays connected across ${PINGS} pings and ${KEEPALIVES} keep-alives`,
      async () => {
        const t0 = Date.now();
        await page.goto(`http://127.0.0.1:${proxy.port}/`);
        const r = await withTimeout(page.evaluate((o) => window.chTest.start(o),
          { url: site.path, token: TOKEN, hub: RESOURCE.hub, transport, pingInterval: PING_MS }), WAIT_MS, 'start');
        expect(r.transport === transport && r.state === 'connected', `${r.state} over ${r.transport}`);
        await withTimeout(page.evaluate((k) => window.chTest.invoke('SubscribeToPart', k), part), WAIT_MS,
          'SubscribeToPart');
        const ka0 = (await ctl.stats()).keepalives;
        const pings0 = proxy.stats.commands.ping || 0;
        // Until the pings are answered, or the client gives up (an error, or a state other than connected).
        await page.waitForFunction((n) => window.chTest.pongs >= n || window.chTest.errors.length > 0 ||
          window.chTest.connection.state !== $.signalR.connectionState.connected, PINGS,
        { timeout: WAIT_MS, polling: 50 })
          .catch(() => { throw new StepError(`fewer than ${PINGS} pings answered within ${WAIT_MS} ms`); });
        const healthy = async () => {
          const info = await page.evaluate(() => window.chTest.info());
          expect(info.errors.length === 0, `client errors: ${info.errors.join(' | ')}`);
          expect(info.state === 'connected', `state ${info.state} (events ${info.events.join(',') || 'none'})`);
          expect(info.events.length === 0, `connection events: ${info.events.join(',')}`);
          expect(info.id === r.id, 'the connection id changed');
          return info;
        };
        expect((await healthy()).pongs >= PINGS, 'too few pings answered');
        let ka = 0;
        for (const tEnd = Date.now() + WAIT_MS; Date.now() < tEnd; await new Promise((res) => setTimeout(res, 100))) {
          ka = (await ctl.stats()).keepalives - ka0;
          if (ka >= KEEPALIVES) break;
        }
        expect(ka >= KEEPALIVES, `${ka} keep-alives written in ${WAIT_MS} ms`);
        const info = await healthy();
        await ctl.publish(RESOURCE, part, 1);
        await page.waitForFunction((k) => window.chTest.updates.some((u) => u && u.PartKey === k), part,
          { timeout: WAIT_MS, polling: 50 })
          .catch(() => { throw new StepError('no Update delivered after the pings'); });
        const sent = (proxy.stats.commands.ping || 0) - pings0;
        return `${info.pongs} pings answered (${sent} reached the endpoint), ${ka} keep-alives, ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s`;
      });
    if (ok) {
      await page.evaluate(() => window.chTest.stop());
    }
  } finally {
    if (!ok || args.verbose) {
      console.log(`--- client log (${transport}, long run, last 40 lines) ---`);
      for (const l of log.slice(-40)) console.log(redact(l));
    }
    await context.close().catch(() => {});
  }
}

/** The official client with a wrong token must fail to start (negotiate is refused). */
async function officialBadToken(browser, proxyPort) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await step('official/webSockets: a wrong token is refused', async () => {
      await page.goto(`http://127.0.0.1:${proxyPort}/`);
      const r = await withTimeout(page.evaluate((o) => window.chTest.start(o).then(() => 'started', (e) => e.message),
        { url: '/signalr', token: 'not-a-valid-token', hub: RESOURCE.hub, transport: 'webSockets' }), WAIT_MS, 'start');
      expect(r !== 'started', 'the client connected with a wrong token');
      return r;
    });
  } finally {
    await context.close().catch(() => {});
  }
}

// ---- node-signalr ------------------------------------------------------------------------------------------------

async function nodeSignalrScenario(port, ctl, part) {
  const HUB = RESOURCE.hub;
  const name = (s) => `node-signalr/webSockets: ${s}`;
  const client = new SignalrClient(`http://127.0.0.1:${port}/signalr`, [HUB]);
  client.headers.Authorization = `Bearer ${TOKEN}`;
  client.reconnectDelayTime = 1000;
  client.requestTimeout = 5000;
  const got = [];
  const errors = [];
  let onUpdate = null;
  client.connection.hub.on(HUB, 'Update', (u) => { got.push(u); if (onUpdate) onUpdate(); });
  client.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  try {
    let ok = await step(name('connect with an Authorization header'), async () => {
      const connected = new Promise((resolve) => client.on('connected', resolve));
      client.start();
      await withTimeout(connected, WAIT_MS, `connect (errors: ${errors.join(' | ') || 'none'})`);
    });
    ok = ok && await step(name(`subscribe to part ${part} and receive Updates`), async () => {
      await withTimeout(client.connection.hub.call(HUB, 'SubscribeToPart', part), WAIT_MS, 'SubscribeToPart');
      const arrived = new Promise((resolve) => {
        onUpdate = () => { if (got.length >= 2) resolve(); };
      });
      await ctl.publish(RESOURCE, part, 2);
      await withTimeout(arrived, WAIT_MS, `2 Updates (got ${got.length})`);
      expect(got.every((u) => u && u.PartKey === part), `wrong PartKey: ${JSON.stringify(got)}`);
      expectConsecutive(got.map((u) => u.HarnessSeq), 1, 2, part);
      return `HarnessSeq 1..2`;
    });
  } finally {
    client.end();
  }

  // Without the header the same client must be refused at negotiate (401), not connected anonymously.
  const anon = new SignalrClient(`http://127.0.0.1:${port}/signalr`, [HUB]);
  try {
    await step(name('no Authorization header is refused'), async () => {
      const first = new Promise((resolve) => {
        anon.on('connected', () => resolve('connected'));
        anon.on('error', (e) => resolve(e.code));
      });
      anon.start();
      const r = await withTimeout(first, WAIT_MS, 'negotiate');
      expect(r === 'UNAUTHORIZED', `expected UNAUTHORIZED (401), got ${r}`);
      return 'HTTP 401';
    });
  } finally {
    anon.end();
  }
}

// ---- main --------------------------------------------------------------------------------------------------------

/** Starts one endpoint (base path "" or e.g. "/Centro") with its page proxy. */
async function startSite(base, label, keepalive = 0) {
  const endpoint = await startEndpoint(args.server, TOKEN, { base, faults: args.faults, keepalive });
  const site = { endpoint, ctl: makeControl(endpoint.controlPort), path: `${base}/signalr`, label, proxy: null };
  try {
    site.proxy = await startProxy({ host: '127.0.0.1', port: endpoint.port });
  } catch (e) {
    await endpoint.stop();
    throw e;
  }
  console.log(`endpoint 127.0.0.1:${endpoint.port}${site.path} (control ${endpoint.controlPort}), ` +
    `page proxy 127.0.0.1:${site.proxy.port}`);
  return site;
}

async function stopSite(site) {
  await site.proxy.close();
  const r = await site.endpoint.stop();
  if (failed || args.verbose) {
    const err = site.endpoint.stderr().trim();
    if (err) {
      console.log(`--- endpoint${site.label} stderr (last 40 lines) ---`);
      console.log(redact(err.split('\n').slice(-40).join('\n')));
    }
  }
  if (r.code !== 0) report(false, `endpoint${site.label} shutdown`, `exit code ${r.code}, signal ${r.sig}`);
}

async function main() {
  const t0 = Date.now();
  const sites = [];
  let browser = null;
  try {
    // Keep-alives every second (KeepAliveTimeout 2 s) for the long runs: several of them in a few seconds.
    const kaSite = await startSite('', ' (keep-alive 1 s)', 1);
    sites.push(kaSite);
    const main = args.longOnly ? null : await startSite('', '');
    if (main) sites.push(main);
    // Real Centro servers live under a virtual directory (http://host/Centro/signalr): negotiate's Url must follow.
    const centro = args.longOnly ? null : await startSite('/Centro', ' /Centro');
    if (centro) sites.push(centro);
    // Debian's chromium, never a downloaded one. This network is closed: no background or QUIC traffic.
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium', headless: true, timeout: 30000,
      args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
    });
    console.log(`Chromium ${browser.version()}`);

    // Distinct realistic keys per scenario so no scenario sees another's Updates.
    let part = 1882708;
    for (const [i, t] of args.transports.entries()) {
      await officialLongScenario(browser, kaSite, t, String(part + 5 + i));
    }
    if (!args.longOnly) {
      for (const t of args.transports) {
        await officialScenario(browser, main, RESOURCE, t, String(part), String(part + 1));
        part += 10;
      }
      if (args.transports.includes('serverSentEvents')) {
        await officialScenario(browser, main, JOB, 'serverSentEvents', '3f2b6c1e-8d4a-4f7e-9b21-0c5d7a9e4b13', '12');
      }
      if (args.transports.includes('longPolling')) {
        await officialScenario(browser, centro, RESOURCE, 'longPolling', '2001544', '2001545');
      }
      await officialBadToken(browser, main.proxy.port);
      if (args.nodeSignalr) await nodeSignalrScenario(main.endpoint.port, main.ctl, String(part));
    }
  } catch (e) {
    report(false, 'setup', (e && e.stack) || String(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
    for (const site of sites) await stopSite(site);
  }
  console.log(`browser proof: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

runBounded(main, args.timeout, () => {
  console.log(`FAIL overall timeout: the run did not finish within ${args.timeout} s`);
  console.log(`${passed} passed, ${failed + 1} failed`);
});
