// Starts the reference endpoint (through ch_browser_server) and talks to its control API.
import { spawn } from 'node:child_process';
import http from 'node:http';
import readline from 'node:readline';

/**
 * Spawns the launcher with the token in its environment and resolves with {port, controlPort, stop()} once it
 * printed its ports. Its stderr is kept (not printed) so a failing run can show it; it never contains the token.
 */
export function startEndpoint(binary, token,
  { base = '', faults = [], keepalive = 0, timeoutMs = 15000, tls = null } = {}) {
  return new Promise((resolve, reject) => {
    const argv = base ? ['--base', base] : [];
    if (tls) argv.push('--tls-cert', tls.cert, '--tls-key', tls.key); // https/wss on the endpoint port
    if (keepalive) argv.push('--keepalive', String(keepalive)); // seconds; KeepAliveTimeout is twice that
    for (const f of faults) argv.push('--fault', f);
    const child = spawn(binary, argv, {
      env: { ...process.env, CH_BROWSER_TOKEN: token },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stderr = [];
    child.stderr.on('data', (d) => { stderr.push(d); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('endpoint did not start in time')); },
      timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`endpoint exited early (code ${code}, signal ${sig}): ${Buffer.concat(stderr)}`));
    });
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (line) => {
      clearTimeout(timer);
      let ports;
      try {
        ports = JSON.parse(line);
      } catch {
        reject(new Error(`unexpected launcher output: ${line.slice(0, 200)}`));
        return;
      }
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
      resolve({
        port: ports.port,
        controlPort: ports.control_port,
        stderr: () => Buffer.concat(stderr).toString(),
        // Closing stdin asks the launcher to stop; SIGKILL only if it does not within 5 s.
        stop: async () => {
          child.stdin.end();
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          const r = await exited;
          clearTimeout(t);
          return r;
        },
      });
    });
  });
}

/** POSTs a JSON body to the control API; resolves with {status, body} (body parsed when it is JSON). */
export function control(port, path, body, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path, agent: false, timeout: timeoutMs,
      headers: { 'content-type': 'application/json', 'content-length': data.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed = text;
        try { parsed = JSON.parse(text); } catch { /* keep the text */ }
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`control ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}
