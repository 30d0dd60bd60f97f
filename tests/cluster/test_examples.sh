#!/usr/bin/env bash
# The cluster examples (examples/cluster/): the shell scripts and the Slurm batch script parse (bash -n), the
# Kubernetes manifest is valid YAML with a consistent MPIJob (ranks = workers x slots, the image's SSH port, user
# and command, --mpi on the command line), the Dockerfile builds with the project's install script and MPI, the
# per-rank wrapper gives each local rank its own source addresses, and run-hosts.sh counts a hostfile's slots.
# With a binary built with MPI and mpirun present, the hostfile's command line runs for real: 2 ranks on loopback
# through ch-rank.sh. Needs python3 with PyYAML (Debian python3-yaml, in .ci/install-deps.sh test): without it the
# test fails, or is skipped (77) when CH_ALLOW_SKIP=1.
set -u
src=${CH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
ex="$src/examples/cluster"
fail=0
bad() {
  echo "FAILED: $*" >&2
  fail=1
}

# shellcheck source-path=SCRIPTDIR source=../common/ch_need_pyyaml.sh
. "$(dirname "$0")/../common/ch_need_pyyaml.sh"

for f in ch-rank.sh run-hosts.sh slurm.sbatch; do
  bash -n "$ex/$f" || bad "$f does not parse (bash -n)"
done
grep -q '^srun --mpi=pmix .*run .*--mpi' <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$ex/slurm.sbatch") ||
  bad "slurm.sbatch: no 'srun --mpi=pmix ... run ... --mpi' line"

python3 - "$ex" <<'PY' || fail=1
import re, sys, yaml
ex = sys.argv[1]
docs = list(yaml.safe_load_all(open(f"{ex}/mpijob.yaml")))
job = next((d for d in docs if d and d.get("kind") == "MPIJob"), None)
errors = []
if job is None or job.get("apiVersion") != "kubeflow.org/v2beta1":
    errors.append("mpijob.yaml: no MPIJob of kubeflow.org/v2beta1")
else:
    spec = job["spec"]
    rs = spec["mpiReplicaSpecs"]
    workers, slots = rs["Worker"]["replicas"], spec["slotsPerWorker"]
    args = " ".join(rs["Launcher"]["template"]["spec"]["containers"][0]["args"])
    np = re.search(r"-np (\d+)", args)
    if not np or int(np.group(1)) != workers * slots:
        errors.append(f"mpijob.yaml: -np {np and np.group(1)} is not workers x slotsPerWorker = {workers * slots}")
    if not re.search(r"ch-rank\.sh run \S+ --mpi", args):
        errors.append("mpijob.yaml: the launcher does not run 'ch-rank.sh run SCENARIO --mpi'")
    if "--token " in args:
        errors.append("mpijob.yaml: a token on the command line")
    docker = open(f"{ex}/Dockerfile").read()
    worker = rs["Worker"]["template"]["spec"]["containers"][0]
    cmd = re.search(r'^CMD (\[.*\])$', docker, re.M)
    if not cmd or yaml.safe_load(cmd.group(1)) != worker["command"]:
        errors.append("mpijob.yaml: the workers' command is not the Dockerfile's CMD (sshd)")
    if worker["readinessProbe"]["tcpSocket"]["port"] != 2222 or "Port 2222" not in docker:
        errors.append("mpijob.yaml / Dockerfile: sshd's port differs")
    home = re.search(r"--home-dir (\S+)", docker).group(1)
    if spec["sshAuthMountPath"] != f"{home}/.ssh":
        errors.append(f"mpijob.yaml: sshAuthMountPath is not {home}/.ssh")
    uid = re.search(r"--uid (\d+)", docker).group(1)
    for role in ("Launcher", "Worker"):
        if str(rs[role]["template"]["spec"]["securityContext"]["runAsUser"]) != uid:
            errors.append(f"mpijob.yaml: {role} does not run as the image's user {uid}")
    for want in ("install-deps.sh build", "-DCH_HAVE_MPI=ON", "openmpi-bin", "COPY examples/cluster/ch-rank.sh"):
        if want not in docker:
            errors.append(f"Dockerfile: no '{want}'")
for e in errors:
    print("FAILED:", e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# ch-rank.sh: the local rank picks its entry (mpirun's variable, then Slurm's); a file per host; none at all
out=$(CENTRO_HARNESS=echo OMPI_COMM_WORLD_LOCAL_RANK=1 CH_SOURCE_ADDRESSES="10.0.0.1 10.0.0.2-10.0.0.8" \
  "$ex/ch-rank.sh" run s --mpi)
[ "$out" = "run s --mpi --source-addresses 10.0.0.2-10.0.0.8" ] || bad "ch-rank.sh (OMPI local rank 1): $out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '10.1.0.10\n10.1.0.11,10.1.0.12\n' >"$tmp/addrs"
out=$(CENTRO_HARNESS=echo SLURM_LOCALID=1 CH_SOURCE_ADDRESSES_FILE="$tmp/addrs" "$ex/ch-rank.sh" run s)
[ "$out" = "run s --source-addresses 10.1.0.11,10.1.0.12" ] || bad "ch-rank.sh (file, Slurm local rank 1): $out"
out=$(CENTRO_HARNESS=echo SLURM_LOCALID=0 CH_SOURCE_ADDRESSES_FILE="$tmp/none" "$ex/ch-rank.sh" run s)
[ "$out" = "run s" ] || bad "ch-rank.sh (no addresses): $out"
if CENTRO_HARNESS=echo OMPI_COMM_WORLD_LOCAL_RANK=2 CH_SOURCE_ADDRESSES="a b" "$ex/ch-rank.sh" run s 2>/dev/null; then
  bad "ch-rank.sh started a rank without an entry for it"
fi

# run-hosts.sh: -np is the sum of the hostfile's slots (comments and blank lines ignored)
out=$(DRY_RUN=1 "$ex/run-hosts.sh" "$ex/hosts.example" fanout-1k --report-dir /r)
want="-np $(sed -e 's/#.*//' "$ex/hosts.example" | awk '/slots=/ {sub(/.*slots=/, ""); n += $1} END {print n}') "
case $out in
"mpirun --hostfile $ex/hosts.example $want"*"ch-rank.sh run fanout-1k --mpi --report-dir /r "*) ;;
*) bad "run-hosts.sh DRY_RUN: $out (wanted $want)" ;;
esac

# The hostfile's command line for real on loopback: mpirun, 2 ranks, each through ch-rank.sh with its own address.
bin=${CH_BINARY:-}
if [ -z "$bin" ] || ! command -v mpirun >/dev/null; then
  echo "not run: the 2-rank run (no CH_BINARY or no mpirun)"
elif "$bin" --version | grep -q "not built with MPI"; then
  echo "not run: the 2-rank run ($bin is built without MPI)"
else
  printf 'localhost slots=2\n' >"$tmp/hosts"
  # ASan build: Open MPI 4.1 unloads its components at MPI_Finalize, leaving their memory unreachable with no module
  # to suppress by; the ranks run without leak checking, as in test_run_mpi (tests/common/ch_mpirun.h).
  if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"; fi
  if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 CENTRO_HARNESS="$bin" \
    CH_SOURCE_ADDRESSES="127.0.0.2 127.0.0.3" timeout 120 mpirun --oversubscribe --hostfile "$tmp/hosts" -np 2 \
    -x CENTRO_HARNESS -x CH_SOURCE_ADDRESSES "$ex/ch-rank.sh" run "$src/scenarios/smoke.json" --mpi --quiet \
    --report-dir "$tmp/report" >"$tmp/out" 2>&1 && [ -s "$tmp/report/report.json" ]; then
    echo "ran: 2 ranks through ch-rank.sh under mpirun: $(tail -1 "$tmp/out")"
  else
    bad "2 ranks under mpirun through ch-rank.sh: $(tail -5 "$tmp/out")"
  fi
fi

[ $fail = 0 ] && echo "examples/cluster: all checks passed"
exit $fail
