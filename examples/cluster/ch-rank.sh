#!/usr/bin/env bash
# ch-rank.sh: starts centro-harness as one MPI rank with that rank's own source addresses, so that the ranks sharing a
# host do not share one address's ephemeral ports (about 28,000 per address: net.ipv4.ip_local_port_range).
#
#   mpirun -np 100 --hostfile hosts ch-rank.sh run fanout-1k --mpi --report-dir /shared/reports/fanout
#   srun --mpi=pmix ch-rank.sh run fanout-1k --mpi --report-dir /shared/reports/fanout
#
# It passes its arguments to centro-harness (CENTRO_HARNESS names another binary) and adds
# `--source-addresses A` when this rank has addresses. The rank's index on its host (local rank) comes from
# OMPI_COMM_WORLD_LOCAL_RANK (mpirun) or SLURM_LOCALID (srun); its addresses from, in this order:
#   CH_SOURCE_ADDRESSES="A0 A1 ..."   one entry per local rank, separated by spaces (the same on every host: for
#                                     hosts that carry the same addresses, e.g. one host, or per-host env files)
#   CH_SOURCE_ADDRESSES_FILE          a file on each host, line L+1 for local rank L (default
#                                     /etc/centro-harness/source-addresses; missing: none)
# An entry is what --source-addresses takes: an address, a range 10.1.0.10-10.1.0.19, or a,b,c. None: the operating
# system picks the host's address toward the target, which holds about 28,000 connections to one target port.
set -euo pipefail

local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-0}}
case $local_rank in
'' | *[!0-9]*)
  echo "ch-rank.sh: the local rank \"$local_rank\" is not a number" >&2
  exit 3
  ;;
esac

src=""
if [ -n "${CH_SOURCE_ADDRESSES:-}" ]; then
  read -r -a entries <<<"$CH_SOURCE_ADDRESSES"
  if [ "$local_rank" -ge "${#entries[@]}" ]; then
    echo "ch-rank.sh: CH_SOURCE_ADDRESSES has ${#entries[@]} entries, none for local rank $local_rank" >&2
    exit 3
  fi
  src=${entries[$local_rank]}
else
  file=${CH_SOURCE_ADDRESSES_FILE:-/etc/centro-harness/source-addresses}
  if [ -r "$file" ]; then
    src=$(sed -n "$((local_rank + 1))p" "$file" | tr -d '[:space:]')
    if [ -z "$src" ]; then
      echo "ch-rank.sh: $file has no line $((local_rank + 1)) for local rank $local_rank on $(hostname)" >&2
      exit 3
    fi
  fi
fi

if [ -n "$src" ]; then
  exec "${CENTRO_HARNESS:-centro-harness}" "$@" --source-addresses "$src"
fi
exec "${CENTRO_HARNESS:-centro-harness}" "$@"
