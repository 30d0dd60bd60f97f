// The live dashboard (issue #15) in headless Debian Chromium while a run goes on:
//  1. `run --dashboard 127.0.0.1:0 --dashboard-allow-stop`: the page, opened mid-run, shows the report's charts and
//     they change from one second to the next; the Stop button stops the run through SIGINT's path (exit 130, the
//     report marked interrupted) and the page then shows that final report;
//  2. without --dashboard-allow-stop there is no button and POST /stop is answered 403; the run goes to its end and
//     the page shows the final report (PASSED).
// Prints one line per step and exits non-zero on any failure. Every wait has a deadline.
//
// Usage: node dashboard.test.mjs --binary build/centro-harness [--screenshot FILE.png]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(new URL(import.meta.url).pathname);
const args = { binary: null, screenshot: null };
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--binary') args.binary = process.argv[++i];
  else if (process.argv[i] === '--screenshot') args.screenshot = process.argv[++i];
}
if (!args.binary) {
  console.error('usage: node dashboard.test.mjs --binary PATH [--screenshot FILE.png]');
  process.exit(2);
}
const scenario = path.join(here, '..', '..', 'scenarios', 'smoke.json');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-dash-'));
let failed = 0;
function check(ok, what, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${!ok && detail ? `: ${detail}` : ''}`);
  if (!ok) failed++;
  return ok;
}

// Starts a run; resolves with {child, url, done} once it printed the dashboard's address.
function startRun(name, extra) {
  const child = spawn(args.binary, ['run', scenario, '--report-dir', path.join(tmp, name), '--dashboard',
    '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const done = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard address within 15 s:\n${out}`)), 15000);
    const take = (d) => {
      out += d;
      const m = out.match(/dashboard: (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
  });
  return { child, url, done, output: () => out };
}

function within(ms, p, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

const chartsOf = (page) => page.evaluate(() =>
  [...document.querySelectorAll('#view svg.chart polyline')].map((l) => l.getAttribute('points')).join('|'));

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, timeout: 30000,
    args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
  });
  const runs = [];
  try {
    // 1. with the stop button: a trigger phase of 30 s that the button cuts short
    const a = startRun('a', ['--dashboard-allow-stop', '--set', 'phases.2.duration=30s']);
    runs.push(a);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => d.accept());
    await page.goto(await a.url);
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1, null, { timeout: 15000 });
    check(await page.locator('#view svg.chart').count() >= 4, 'the page shows the report\'s charts mid-run');
    // the charts change while the run goes on (a new second each time)
    await page.waitForFunction(() => document.querySelector('#t-phase b')?.textContent.startsWith('trigger'), null,
      { timeout: 15000 });
    const first = await chartsOf(page);
    let changed = false;
    for (let i = 0; i < 50 && !changed; i++) {
      await page.waitForTimeout(200); // polling the page for a condition with a deadline (10 s)
      changed = (await chartsOf(page)) !== first;
    }
    check(changed, 'its charts change while the run goes on');
    check(/[1-9]/.test(await page.locator('#t-msgs b').textContent()), 'messages per second shown',
      await page.locator('#t-msgs b').textContent());
    if (args.screenshot) {
      await page.waitForTimeout(8000); // more seconds of series for a readable picture (README's screenshot)
      await page.screenshot({ path: args.screenshot, fullPage: false });
      console.log(`screenshot: ${args.screenshot}`);
    }
    check(await page.locator('#stop').count() === 1, 'the Stop button is there with --dashboard-allow-stop');
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.stop, null, { timeout: 10000 });
    check(await page.evaluate(() => document.body.dataset.stop) === '202', 'POST /stop accepted (202)');
    const codeA = await within(20000, a.done, 'the stopped run\'s exit');
    check(codeA === 130, 'the run stopped as on SIGINT (exit 130)', `exit ${codeA}\n${a.output()}`);
    check(/interrupted by SIGINT/.test(a.output()), 'its last line says interrupted by SIGINT');
    await page.waitForFunction(() => document.body.dataset.ended === '1', null, { timeout: 10000 });
    const srcdoc = await page.evaluate(() => document.getElementById('report').srcdoc);
    check(/INTERRUPTED/.test(srcdoc), 'the page shows the final report, marked interrupted');
    const rep = JSON.parse(fs.readFileSync(path.join(tmp, 'a', 'report.json'), 'utf8'));
    check(rep.run.interrupted && rep.run.interrupted.signal === 'SIGINT', 'report.json says interrupted by SIGINT',
      JSON.stringify(rep.run.interrupted));
    await page.close();

    // 2. without --dashboard-allow-stop: no button, POST /stop refused; the run ends by itself
    // (a loose latency threshold: this test is about the page, and the machine may be busy)
    const b = startRun('b', ['--set', 'phases.2.duration=3s', '--set', 'thresholds.0=update_latency.p99 < 10s']);
    runs.push(b);
    const pb = await browser.newPage();
    await pb.goto(await b.url);
    await pb.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1, null, { timeout: 15000 });
    check(await pb.locator('#stop').count() === 0, 'no Stop button without --dashboard-allow-stop');
    const status = await pb.evaluate(() => fetch('stop', { method: 'POST' }).then((r) => r.status));
    check(status === 403, 'POST /stop refused (403) without --dashboard-allow-stop', `status ${status}`);
    await pb.waitForFunction(() => document.body.dataset.ended === '1', null, { timeout: 30000 });
    const codeB = await within(10000, b.done, 'the run\'s exit');
    check(codeB === 0, 'the run went to its end (exit 0)', `exit ${codeB}\n${b.output()}`);
    check(/PASSED/.test(await pb.evaluate(() => document.getElementById('report').srcdoc)),
      'the page shows the final report (PASSED)');
  } catch (e) {
    check(false, 'dashboard test', e.stack || String(e));
  } finally {
    for (const r of runs) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log(failed ? `${failed} failed` : 'all passed');
  process.exit(failed ? 1 : 0);
}

main();
