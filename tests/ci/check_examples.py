"""The CI examples in examples/ci/ as a pipeline runs them, against a `centro-harness serve` on loopback.

Both files must be valid YAML of their CI's shape (jobs/steps; a job with script and artifacts), keep the report
folder and publish junit.xml. Their centro-harness command lines are extracted and run with the pipeline's variables
pointing at the endpoint: `run` for real (twice: the first run is moved to where the compare step expects the last
release's baseline), `compare` for real (0, or 2 naming a gate when this machine's latency moved: never 3), and
`check` with --help appended, which parses every option it was given (an unknown one is exit 3) without the
minute-long catalogue. The run and check lines of both files must be the same text.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

SRC = os.environ["CH_SOURCE_DIR"]
BIN = os.environ["CH_BINARY"]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def commands(texts):
    """centro-harness command lines in shell script texts (backslash continuations joined)."""
    out = []
    for text in texts:
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            line = line.strip()
            if line.startswith("centro-harness "):
                out.append(" ".join(line.split()))
    return out


def load(name):
    with open(os.path.join(SRC, "examples/ci", name)) as f:
        return yaml.safe_load(f)


def github():
    doc = load("github-actions.yml")
    jobs = doc.get("jobs") or {}
    if (True not in doc and "on" not in doc) or len(jobs) != 1:
        fail("github-actions.yml: expected on: and one job")
        return []
    steps = next(iter(jobs.values())).get("steps") or []
    uses = [s.get("uses", "") for s in steps]
    if not any(u.startswith("actions/upload-artifact") for u in uses):
        fail("github-actions.yml: the report folder is not kept (actions/upload-artifact)")
    junit = [s for s in steps if "junit" in s.get("uses", "")]
    if not junit or "junit.xml" not in junit[0].get("with", {}).get("report_paths", ""):
        fail("github-actions.yml: junit.xml is not published")
    return commands(s.get("run", "") for s in steps)


def gitlab():
    doc = load("gitlab-ci.yml")
    jobs = [v for v in doc.values() if isinstance(v, dict) and "script" in v]
    if len(jobs) != 1:
        fail("gitlab-ci.yml: expected one job with a script")
        return []
    job = jobs[0]
    art = job.get("artifacts") or {}
    if art.get("when") != "always" or "reports/" not in (art.get("paths") or []):
        fail("gitlab-ci.yml: the report folder is not kept whatever the result (artifacts: when: always)")
    if not any("junit.xml" in p for p in (art.get("reports") or {}).get("junit") or []):
        fail("gitlab-ci.yml: junit.xml is not published (artifacts: reports: junit)")
    return commands(job.get("before_script", []) + job.get("script", []))


def start_serve(work):
    """serve on free loopback ports; its log goes to a file (a pipe left unread would stall it)."""
    log = open(os.path.join(work, "serve.log"), "w+")
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--control-listen", "127.0.0.1:0", "--base",
                          "/Centro", "--token", "ci-example-token"], stderr=log, stdout=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and p.poll() is None:
        # "listening on http://127.0.0.1:P/Centro/signalr, control on http://127.0.0.1:C"
        with open(log.name) as f:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+/Centro)/signalr, control on (http://[0-9.:]+)",
                          f.read())
        if m:
            return p, m.group(1), m.group(2)
        time.sleep(0.05)  # polling a log file for a line, with a deadline
    p.kill()
    raise SystemExit("serve did not start: " + open(log.name).read())


def sh(cmd, cwd, env, timeout=120):
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def main():
    gh, gl = github(), gitlab()
    for name, cmds in (("github-actions.yml", gh), ("gitlab-ci.yml", gl)):
        kinds = [c.split()[1] for c in cmds]
        if sorted(set(kinds)) != ["check", "compare", "run"]:
            fail(f"{name}: expected check, run and compare command lines, found {kinds}")
    same = lambda cmds, kind: [c for c in cmds if c.split()[1] == kind]
    for kind in ("check", "run"):
        if same(gh, kind) != same(gl, kind):
            fail(f"the {kind} lines differ between the two files: {same(gh, kind)} vs {same(gl, kind)}")
    work = tempfile.mkdtemp(prefix="ch-ci-examples-")
    serve, target, control = start_serve(work)
    try:
        os.mkdir(os.path.join(work, "bin"))
        os.symlink(BIN, os.path.join(work, "bin", "centro-harness"))
        for d in ("examples", "scenarios"):
            os.symlink(os.path.join(SRC, d), os.path.join(work, d))
        env = dict(os.environ, PATH=os.path.join(work, "bin") + ":" + os.environ["PATH"], CENTRO_TARGET=target,
                   CENTRO_TOKEN="ci-example-token", CENTRO_TRIGGER_URL=control + "/publish", CI="true")
        for c in same(gh, "check"):
            code, out = sh(c + " --help", work, env)
            if code != 0 or "Usage: centro-harness check" not in out:
                fail(f"{c}: its options do not parse (exit {code}): {out[-400:]}")
        runs = same(gh, "run")
        if len(runs) != 1:
            fail(f"expected one run line, found {runs}")
            return
        code, out = sh(runs[0], work, env)
        if code != 0:
            fail(f"{runs[0]}: exit {code}: {out[-800:]}")
            return
        run_dir = shlex.split(runs[0])[shlex.split(runs[0]).index("--report-dir") + 1]
        for cmp in same(gh, "compare") + same(gl, "compare"):  # each file keeps its baseline elsewhere
            base = shlex.split(cmp)[2]
            os.makedirs(os.path.dirname(os.path.join(work, base)), exist_ok=True)
            if not os.path.exists(os.path.join(work, base)):
                shutil.copytree(os.path.join(work, run_dir), os.path.join(work, base))
        shutil.rmtree(os.path.join(work, run_dir))
        code, out = sh(runs[0], work, env)
        if code != 0:
            fail(f"{runs[0]} (second run): exit {code}: {out[-800:]}")
            return
        for cmp in same(gh, "compare") + same(gl, "compare"):
            code, out = sh(cmp, work, env)
            last = out.strip().splitlines()[-1] if out.strip() else ""
            ok = (code == 0 and last.startswith("exit 0: no regression (4 gates")) or \
                 (code == 2 and last.startswith("exit 2: regression: update_latency."))
            if not ok:
                fail(f"{cmp}: exit {code}: {out[-1200:]}")
            for f in ("compare.html", "compare-junit.xml", "compare.json"):
                if not os.path.exists(os.path.join(work, "reports", f)):
                    fail(f"{cmp}: did not write reports/{f}")
    finally:
        serve.terminate()
        serve.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


main()
if failures:
    print(f"{len(failures)} failure(s)", file=sys.stderr)
    sys.exit(1)
print("ok: examples/ci/ YAML valid; check, run and compare lines ran against serve")
