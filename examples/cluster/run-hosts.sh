#!/usr/bin/env bash
# run-hosts.sh: one centro-harness run over the hosts of an Open MPI hostfile, over SSH, after checking every host.
#
#   examples/cluster/run-hosts.sh hosts SCENARIO [run options...]
#   CLIENTS_PER_RANK=10000 examples/cluster/run-hosts.sh hosts fanout-1k --set clients.0.count=1000000 \
#     --target https://centro.example.com/Centro --token-env CENTRO_TOKEN --report-dir /shared/reports/fanout-1m
#
# For each host it asks over SSH for the descriptor limit (ulimit -Hn), the core count and the harness version, and
# refuses to start when a host's ranks cannot hold CLIENTS_PER_RANK clients each (one descriptor per WebSocket
# client, two for SSE and long polling, plus about 1,000 for the process; see README.md). Then it runs
#   mpirun --hostfile HOSTS -np <sum of slots> $MPIRUN_OPTS ch-rank.sh run SCENARIO --mpi OPTIONS...
# ch-rank.sh (next to this script, installed on every host as CH_RANK) gives each rank its own source addresses.
# The report is written by rank 0 (on the first host) into --report-dir: give a folder on that host or a shared one.
# DRY_RUN=1 prints the mpirun command instead of running it. MPIRUN_OPTS adds options to mpirun (e.g.
# --enable-recovery, which --mpi-timeout needs so that a lost rank ends the run with a report instead of aborting it).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 HOSTFILE SCENARIO [run options...]" >&2
  exit 3
fi
hostfile=$1
scenario=$2
shift 2
per_rank=${CLIENTS_PER_RANK:-10000}
rank_script=${CH_RANK:-/usr/local/bin/ch-rank.sh}
fds_per_client=${FDS_PER_CLIENT:-1} # 2 for serverSentEvents and longPolling

# host and slots of every line that is not a comment
mapfile -t lines < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$hostfile")
if [ ${#lines[@]} -eq 0 ]; then
  echo "$hostfile names no host" >&2
  exit 3
fi
np=0
for line in "${lines[@]}"; do
  host=$(awk '{print $1}' <<<"$line")
  slots=$(sed -n 's/.*slots=\([0-9]*\).*/\1/p' <<<"$line")
  slots=${slots:-1}
  np=$((np + slots))
  if [ -n "${DRY_RUN:-}" ]; then
    continue
  fi
  # one SSH round trip per host: what the ranks there will find
  read -r hard cores version < <(ssh -o BatchMode=yes "$host" \
    'echo "$(ulimit -Hn) $(nproc) $(centro-harness --version | head -1 | tr " " _)"') || {
    echo "$host: cannot run centro-harness over SSH" >&2
    exit 4
  }
  need=$((per_rank * fds_per_client + 1000))
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "$host: descriptor limit $hard < $need for $per_rank clients per rank (raise nofile, or more ranks)" >&2
    exit 4
  fi
  if [ "$slots" -gt "$cores" ]; then
    echo "$host: $slots ranks on $cores cores (each rank wants at least one core)" >&2
  fi
  echo "$host: $slots ranks, descriptor limit $hard, $cores cores, $version"
done

read -r -a extra <<<"${MPIRUN_OPTS:-}"
cmd=(mpirun --hostfile "$hostfile" -np "$np" "${extra[@]}" "$rank_script" run "$scenario" --mpi "$@")
if [ -n "${DRY_RUN:-}" ]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
exec "${cmd[@]}"
