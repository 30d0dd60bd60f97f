#!/usr/bin/env bash
# `make bench`: the benchmarks behind the speed and memory targets, with a table at the end, also written as
# reports/bench-<UTC time>.json. Usage: tests/bench/run.sh [BUILD_DIR=build]
# Environment: BENCH_ONLY="micro density multi coord mpi intake peers peers_wss fanout transports fallback live
#              wss wss_serve storm" (a subset, in that order;
#              intake and peers measure two streams each: the batched one, 50 Updates per frame, and the single
#              one, 1 Update per frame, recorded as intake1_*, raw1_*, peer_<tool>_cpu1_*),
#              BENCH_PIN=0 (do not pin the server to core 0 and the load generators to core 1),
#              BENCH_MP_SIZES="60000 100000" (multi-process sizes), BENCH_DENSITY=19000,
#              BENCH_PEERS_HOLD=10000 (peers: connections Tsung and Artillery are asked to hold, 0 = skip that run),
#              peers_wss: the harness (intake over wss), Tsung and Artillery on the peers' workload against
#              `serve --tls-cert` (the test CA of wss_serve); BENCH_PEERS_TOOLS="tsung artillery" (peers, peers_wss),
#              BENCH_LIVE_CLIENTS=5000 BENCH_LIVE_SECONDS=20 BENCH_LIVE_REPS=3 (live: the watched/unwatched pair).
#              BENCH_WSS_N=2000 (wss: clients of the ws/wss side-by-side runs of bench_wss; the wss row also times
#              bare TLS handshakes with bench_wss hs and CPU per Update with 20 streaming clients, medians of three).
#              BENCH_STORM_CLIENTS=10000 (storm: scenarios/reconnect-storm.json with that many official-js clients).
#              BENCH_MPI_N=30000 (mpi: clients over 3 MPI ranks and over --processes 3).
#              BENCH_WSS_DENSITY=19000 BENCH_WSS_STORM=10000 (wss_serve: wss clients held by one harness process
#              against `serve --tls-cert --processes 2`; clients of the reconnect storm against `serve --tls-cert`).
# Every server and harness process started here is ended by its pid on exit; every wait is bounded.
set -uo pipefail

build=${1:-build}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 4
case "$build" in /*) ;; *) build="$root/$build" ;; esac
only=${BENCH_ONLY:-micro density multi coord mpi intake peers peers_wss fanout transports fallback live wss wss_serve storm}
wss_n=${BENCH_WSS_N:-2000}
mp_sizes=${BENCH_MP_SIZES:-60000 100000}
density_n=${BENCH_DENSITY:-19000}
scn="$root/tests/bench/scenarios"

echo "bench: building in $build"
cmake -S "$root" -B "$build" >/dev/null || exit 4
cmake --build "$build" --target centro-harness benchmarks -j 2 >/dev/null || {
  echo "bench: build failed" >&2
  exit 4
}
H="$build/centro-harness"
P="$build/tests/bench_probe"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
work="$root/reports/bench-$stamp"
mkdir -p "$work"
out_json="$root/reports/bench-$stamp.json"

# ---- process bookkeeping: every pid we start is remembered and ended on exit ----
pids=()
remember() { pids+=("$@"); }
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null; }
end_pid() { # TERM, then KILL after 5 s; only pids we started (and the children they forked)
  local p=$1 kids
  kids=$(children_of "$p")
  kill -TERM "$p" $kids 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$p" $kids 2>/dev/null
  wait "$p" 2>/dev/null
}
# A remembered pid is ended only while it is still a child of this shell (never a reused pid of someone else).
ours() { [ "$(awk '{print $4}' /proc/"$1"/stat 2>/dev/null)" = "$$" ]; }
cleanup() {
  local p
  for p in "${pids[@]}"; do
    ours "$p" && end_pid "$p"
  done
}
trap cleanup EXIT
# Runs a command in the background and waits for it, so that an interrupt is handled at once (bash defers traps
# until a foreground child ends); returns the command's exit code.
fg() {
  "$@" &
  local p=$!
  remember "$p"
  wait "$p"
}
trap 'exit 130' INT TERM

# start_serve NPROC [SERVE OPTIONS...]: a reference endpoint in its own process(es); sets SRV_PID SRV_URL SRV_PORT SRV_CP
start_serve() {
  local n=$1 f="$work/serve-$RANDOM.out"
  shift
  $PIN_SRV "$H" serve --processes "$n" --quiet "$@" >"$f" 2>"$f.err" &
  SRV_PID=$!
  remember "$SRV_PID"
  for _ in $(seq 100); do
    grep -q '^listening on' "$f" 2>/dev/null && break
    sleep 0.1
  done
  SRV_URL=$(sed -n 's/^listening on \(https\{0,1\}:[^ ,]*\)\/signalr.*/\1/p' "$f")
  SRV_PORT=$(sed -n 's/^listening on https\{0,1\}:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$f")
  SRV_CP=$(sed -n 's/.*control on http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$f")
  if [ -z "$SRV_URL" ] || [ -z "$SRV_CP" ]; then
    echo "bench: serve did not start: $(cat "$f.err")" >&2
    return 1
  fi
  if [ "$n" -gt 1 ]; then # older serve builds print before the siblings listen: wait until every one is there
    for _ in $(seq 50); do
      [ "$(children_of "$SRV_PID" | wc -w)" -ge $((n - 1)) ] && break
      sleep 0.1
    done
    sleep 0.3
  fi
}
stop_serve() { end_pid "$SRV_PID"; }
stats() { curl -s -m 5 "http://127.0.0.1:$SRV_CP/stats"; }
# make_test_ca DIR: a test CA (DIR/ca.pem) and an ECDSA P-256 certificate for 127.0.0.1 signed by it
# (DIR/server.pem, DIR/server.key) for `serve --tls-cert`, made once per bench run with the openssl command.
make_test_ca() {
  local c=$1
  [ -s "$c/server.pem" ] && [ -s "$c/ca.pem" ] && return 0
  mkdir -p "$c"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$c/ext"
  if ! { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$c/ca.key" -out "$c/ca.pem" && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=127.0.0.1 -keyout "$c/server.key" -out "$c/server.csr" && openssl x509 -req -in "$c/server.csr" \
    -CA "$c/ca.pem" -CAkey "$c/ca.key" -CAcreateserial -days 2 -extfile "$c/ext" -out "$c/server.pem"; } \
    >"$c/openssl.log" 2>&1; then
    echo "bench: cannot make the test certificate: $(tail -2 "$c/openssl.log")" >&2
    return 1
  fi
}

# Results: "key value" lines, turned into the JSON and the table at the end.
res="$work/results.txt"
: >"$res"
put() { echo "$1 $2" >>"$res"; }
get() { awk -v k="$1" '$1==k{v=$2} END{print (v==""?"-":v)}' "$res"; }
num() { awk -v v="$1" 'BEGIN{ if (v ~ /^-?[0-9.eE+]+$/) printf "%.'"${2:-0}"'f", v; else print "-" }'; }
want() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
clk=$(getconf CLK_TCK)
# The server and the load generator on different cores (issue #7), so neither steals the other's: BENCH_PIN=0 turns
# it off. Child processes (--processes shards, server siblings) inherit the affinity.
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PIN_SRV="taskset -c 0" PIN_GEN="taskset -c 1"
else
  PIN_SRV="" PIN_GEN=""
fi

# density_analyse TSV N: from the samples (wall rss fds cpu procs top), the connect phase is where the summed fd
# count climbs from idle+1% to idle+99% of N; baseline RSS is the last sample before it (harness holding ~0
# clients), hold RSS the most frequent sample of the plateau, peak RSS the largest sample (the disconnect phase). Prints: base_kb hold_kb per_client_kib rate t_connect
# harness_cpu_us_per_handshake peak_kb
density_analyse() {
  awk -v N="$2" -v k="$clk" '
    { t[NR]=$1; r[NR]=$2; f[NR]=$3; u[NR]=$4 }
    END {
      # idle: the most frequent descriptor count before the connect phase (the plateau with ~0 clients)
      for (i=1;i<=NR && f[i] < 0.005*N;i++) c[f[i]]++
      best=0; for (v in c) if (c[v] > best) { best=c[v]; idle=v+0 }
      for (i=1;i<=NR;i++) if (f[i] >= idle+0.01*N) { a=i; break }
      for (i=a;i<=NR;i++) if (f[i] >= idle+0.99*N) { b=i; break }
      # the plateau ends when the count leaves [99%, 101%] of N (the disconnect phase opens /abort requests)
      for (i=b;i<=NR;i++) if (f[i] >= idle+0.99*N && f[i] <= idle+1.01*N) e=i; else break
      if (!a || !b) { print "- - - - - - -"; exit }
      # baseline: the most frequent RSS among those samples (connecting starts with allocations before sockets)
      base=r[1]; bn=0; for (i=1;i<a;i++) if (f[i]==idle) { cb[r[i]]++; if (cb[r[i]] > bn) { bn=cb[r[i]]; base=r[i] } }
      # hold RSS: the most frequent value on the plateau (stable during the hold phase; the disconnect phase
      # allocates before the descriptor count moves)
      bestn=0; for (i=b;i<=e;i++) { cr[r[i]]++; if (cr[r[i]] > bestn) { bestn=cr[r[i]]; hold=r[i] } }
      dt=t[b]-t[a]; rate=(dt>0)?0.98*N/dt:0
      pk=0; for (i=1;i<=NR;i++) if (r[i] > pk) pk=r[i]
      printf "%d %d %.2f %.0f %.2f %.0f %d\n", base, hold, (hold-base)/N, rate, dt, (u[b]-u[a])/k*1e6/(0.98*N), pk
    }' "$1"
}

# stats_window TSV: from the server's /stats samples (wall deliveries ...), the delivery window: the last sample
# before deliveries start rising, the first sample at the final count, and the deliveries in between.
stats_window() {
  awk '{ t[NR]=$1; d[NR]=$2 } END {
    if (!NR) { print "0 0 0"; exit }
    last=d[NR]; for (i=1;i<=NR;i++) if (d[i] > d[1]) { a=(i>1?i-1:1); break }
    for (i=NR;i>=1;i--) if (d[i] < last) { b=i+1; break }
    if (!a || !b) { print "0 0 0"; exit }
    printf "%.3f %.3f %d\n", t[a], t[b], d[b]-d[a] }' "$1"
}
# cpu_in TSV FROM TO COLUMN: the growth of a cumulative column of watch samples between two wall times.
cpu_in() { awk -v a="$2" -v b="$3" -v c="$4" '$1>=a && x=="" {x=$c} $1<=b {y=$c} END{print (x==""?0:y-x)}' "$1"; }
# per_frame CPU_PER_MILLION_UPDATES UPDATES_PER_FRAME: CPU s per million frames (a reader that falls behind gets
# several Updates per frame from the server, which lowers its CPU per Update; per frame does not flatter it).
per_frame() { awk -v c="$1" -v f="$2" 'BEGIN{ if (c ~ /^[0-9.]+$/ && f ~ /^[0-9.]+$/) printf "%.2f", c*f; else print "-" }'; }

# ---------------------------------------------------------------------------------------------------------------
if want micro; then
  echo "== micro: decode and metrics hot paths"
  "$build/tests/bench_proto" 2000000 | tee "$work/proto.txt"
  "$build/tests/bench_metrics" | tee "$work/metrics.txt"
  put proto_ws_ns_per_msg "$(sed -n 's/^engine: ws frame.*: \([0-9]*\) CPU ns\/msg.*/\1/p' "$work/proto.txt")"
  put proto_ws_validating_ns_per_msg "$(sed -n 's/^validating: ws frame.*: \([0-9]*\) CPU ns\/msg.*/\1/p' "$work/proto.txt")"
  put proto_batch_ns_per_update "$(sed -n 's/^intake batch:.*: \([0-9]*\) CPU ns\/Update.*/\1/p' "$work/proto.txt")"
  put proto_sse_ns_per_msg "$(sed -n 's/^sse event.*: \([0-9]*\) CPU ns\/msg.*/\1/p' "$work/proto.txt")"
  put metrics_record_ns "$(sed -n 's/^record (metrics group.*: \([0-9.]*\) ns\/sample/\1/p' "$work/metrics.txt")"
fi

# ---------------------------------------------------------------------------------------------------------------
if want density; then
  echo "== density: $density_n WebSocket clients in ONE harness process (server: 2 processes, SO_REUSEPORT)"
  start_serve 2 || exit 4
  d="$work/density"
  $PIN_GEN "$H" run "$scn/density.json" --target "$SRV_URL" --set "clients.1.count=$density_n" --quiet \
    --source-addresses 127.0.0.2-127.0.0.40 \
    --report-dir "$d" >"$work/density.log" 2>&1 &
  hp=$!
  remember "$hp"
  fg "$P" watch "$hp" "$work/density.tsv" 50 300
  wait "$hp"
  rc=$?
  stop_serve
  read -r base hold per rate dt cpu_hs peak_kb < <(density_analyse "$work/density.tsv" "$density_n")
  peak=$("$P" json "$d/report.json" /metrics/total/connected_peak)
  errs=$("$P" json "$d/report.json" /metrics/total/counters/connect_errors)
  echo "exit $rc; connected peak $peak (1 idle + $density_n), connect errors $errs; baseline RSS $base KiB," \
    "hold RSS $hold KiB => $per KiB/client; handshakes $rate/s (1%..99% of the clients in $dt s)," \
    "harness CPU $cpu_hs us per handshake; peak RSS $peak_kb KiB (disconnect phase)"
  put density_clients "$((peak - 1))"
  put density_connect_errors "$errs"
  put density_rss_base_kib "$base"
  put density_rss_hold_kib "$hold"
  put density_kib_per_client "$per"
  put density_handshakes_per_s "$rate"
  put density_cpu_us_per_handshake "$cpu_hs"
  put density_rss_peak_kib "$peak_kb"
  # the disconnect phase (every run's end, every interruption) must not need much more memory than holding did
  put density_disconnect_peak_ratio "$(awk -v p="$peak_kb" -v h="$hold" 'BEGIN{ if (h > 0) printf "%.2f", p/h; else print "-" }')"
  put density_exit "$rc"
fi

# ---------------------------------------------------------------------------------------------------------------
if want multi; then
  for n in $mp_sizes; do
    shards=$(((n + 16999) / 17000))        # <= 17k clients per harness process (20k descriptors each)
    sp=$(((n + 14999) / 15000))            # <= 15k connections per server process
    [ "$shards" -lt 2 ] && shards=2
    echo "== multi: $n WebSocket clients, $shards harness processes (--processes), $sp server processes," \
      "--source-addresses 127.0.0.2-127.0.0.40"
    start_serve "$sp" || exit 4
    d="$work/multi-$n"
    $PIN_GEN "$H" run "$scn/density.json" --target "$SRV_URL" --set "clients.1.count=$((n - 1))" --processes "$shards" \
      --source-addresses 127.0.0.2-127.0.0.40 --set phases.3.duration=3s --set phases.2.timeout=90s --quiet \
      --report-dir "$d" >"$work/multi-$n.log" 2>&1 &
    hp=$!
    remember "$hp"
    fg "$P" watch "$hp" "$work/multi-$n.tsv" 100 400
    wait "$hp"
    rc=$?
    stop_serve
    read -r base hold per rate dt cpu_hs peak_kb < <(density_analyse "$work/multi-$n.tsv" "$n")
    conn=$("$P" json "$d/report.json" /metrics/total/counters/clients_connected)
    errs=$("$P" json "$d/report.json" /metrics/total/counters/connect_errors)
    echo "exit $rc; connected $conn of $n, connect errors $errs; summed harness RSS $hold KiB (before connecting" \
      "$base KiB) => $per KiB/client; handshakes $rate/s; harness CPU $cpu_hs us per handshake; peak summed RSS" \
      "$peak_kb KiB (disconnect phase)"
    put "multi${n}_connected" "$conn"
    put "multi${n}_connect_errors" "$errs"
    put "multi${n}_rss_hold_kib" "$hold"
    put "multi${n}_kib_per_client" "$per"
    put "multi${n}_handshakes_per_s" "$rate"
    put "multi${n}_cpu_us_per_handshake" "$cpu_hs"
    put "multi${n}_rss_peak_kib" "$peak_kb"
    put "multi${n}_shards" "$shards"
    put "multi${n}_exit" "$rc"
    tail -3 "$work/multi-$n.log" | sed 's/^/  /'
  done
fi

# ---------------------------------------------------------------------------------------------------------------
# coord: `run --processes 3` with an http trigger: the parent sends the 5,000 triggers once for the three shards
# (each judging its own 133 subscribers against the parent's plan); the parent's CPU per trigger, from its note in
# report.json. The endpoint's publish count says each trigger went out once.
# The coordinator's CPU per trigger from a run's report folder ("" when the note says it is not measurable).
coord_cpu_us() {
  grep -o 'coordinator: [0-9]* triggers sent once for [0-9]* shards, [0-9.]* us CPU per trigger' "$1/report.json" |
    sed -n 's/.*, \([0-9.]*\) us CPU per trigger/\1/p' | head -1
}
if want coord; then
  echo "== coord: 400 WebSocket clients, 3 harness processes, 5,000 http triggers at 500/s sent by the coordinator"
  start_serve 1 || exit 4
  d="$work/coord"
  fg $PIN_GEN "$H" run "$scn/coord.json" --target "$SRV_URL" --processes 3 --workers 1 --quiet \
    --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" --report-dir "$d" >"$work/coord.log" 2>&1
  rc=$?
  pubs=$(stats | sed -n 's/.*"publishes":\([0-9]*\).*/\1/p')
  stop_serve
  us=$(coord_cpu_us "$d")
  # how late the coordinator handed each trigger to curl (intended vs actual send time): the sleep's accuracy
  late=$(grep -o 'sent [0-9]* us (p50) and [0-9]* us (p99) after their intended times' "$d/report.json" | head -1)
  l50=$(echo "$late" | sed -n 's/sent \([0-9]*\) us (p50).*/\1/p')
  l99=$(echo "$late" | sed -n 's/.* and \([0-9]*\) us (p99).*/\1/p')
  echo "exit $rc; the endpoint counted ${pubs:-?} publishes (5000 planned); coordinator ${us:--} us CPU per trigger," \
    "sent ${l50:--} us (p50) / ${l99:--} us (p99) after the intended time"
  put coord_exit "$rc"
  put coord_publishes "${pubs:--}"
  put coord_cpu_us_per_trigger "${us:--}"
  put coord_late_p50_us "${l50:--}"
  put coord_late_p99_us "${l99:--}"
  tail -2 "$work/coord.log" | sed 's/^/  /'
fi

# ---------------------------------------------------------------------------------------------------------------
# mpi: the same clients over 3 MPI ranks (`mpirun -np 3 ... run --mpi`, loopback) as over `run --processes 3`, and
# the coordinator's CPU per trigger under MPI (the coord scenario: rank 0 sends 5,000 triggers for the 3 ranks; its
# CPU is rank 0's less the mean of the other ranks', since rank 0 also runs shard 0).
if want mpi; then
  mn=${BENCH_MPI_N:-30000}
  msp=$(((mn + 14999) / 15000))
  MPIRUN=(mpirun --oversubscribe --bind-to none -np 3 --mca btl self,tcp --mca btl_tcp_if_include lo
          --mca oob_tcp_if_include lo)
  [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  if ! command -v mpirun >/dev/null || "$H" --version | grep -q "not built with MPI"; then
    echo "== mpi: skipped (no mpirun, or a build without MPI)"
  else
    for mode in processes mpi; do
      echo "== mpi: $mn WebSocket clients, 3 harness $([ $mode = mpi ] && echo "MPI ranks" || echo processes)," \
        "$msp server processes"
      start_serve "$msp" || exit 4
      d="$work/mpi-$mode"
      how=(--processes 3)
      [ $mode = mpi ] && how=(--mpi)
      fg $PIN_GEN $([ $mode = mpi ] && echo "${MPIRUN[@]}") "$H" run "$scn/density.json" --target "$SRV_URL" \
        --set "clients.1.count=$((mn - 1))" "${how[@]}" --source-addresses 127.0.0.2-127.0.0.40 \
        --set phases.3.duration=3s --set phases.2.timeout=90s --quiet --report-dir "$d" >"$work/mpi-$mode.log" 2>&1
      rc=$?
      stop_serve
      conn=$("$P" json "$d/report.json" /metrics/total/counters/clients_connected)
      echo "exit $rc; connected $conn of $mn"
      put "mpi_${mode}_connected" "$conn"
      put "mpi_${mode}_exit" "$rc"
    done
    echo "== mpi: 400 WebSocket clients, 3 MPI ranks, 5,000 http triggers at 500/s sent by rank 0"
    start_serve 1 || exit 4
    d="$work/mpi-coord"
    fg $PIN_GEN "${MPIRUN[@]}" "$H" run "$scn/coord.json" --target "$SRV_URL" --mpi --workers 1 --quiet \
      --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" --report-dir "$d" >"$work/mpi-coord.log" 2>&1
    rc=$?
    pubs=$(stats | sed -n 's/.*"publishes":\([0-9]*\).*/\1/p')
    stop_serve
    us=$(coord_cpu_us "$d")
    unc=$(grep -o 'largest uncertainty [0-9.]* us' "$d/report.json" | head -1 | awk '{print $3}')
    echo "exit $rc; the endpoint counted ${pubs:-?} publishes (5000 planned); coordinator ${us:--} us CPU per" \
      "trigger; clock offsets known to ${unc:--} us"
    put mpi_coord_exit "$rc"
    put mpi_coord_publishes "${pubs:--}"
    put mpi_coord_cpu_us_per_trigger "${us:--}"
    put mpi_clock_uncertainty_us "${unc:--}"
  fi
fi

# ---------------------------------------------------------------------------------------------------------------
# intake_run TAG HEADLINE [--set ...]: the intake scenario (2,400 subscribers on K0/K1, one worker thread) against a
# fresh server, with the given overrides; records TAG_* (CPU per Update inside the delivery window, the server's
# frames (pushes) and Updates (deliveries), latency).
intake_srv=() # serve options of intake_run's server (peers_wss: --tls-cert/--tls-key)
intake_run() {
  local tag=$1 head=$2
  shift 2
  echo "== $tag: 2400 WebSocket subscribers on 2 keys, one harness worker thread, $head"
  start_serve 1 "${intake_srv[@]}" || exit 4
  d="$work/$tag"
  "$P" watch "$SRV_PID" "$work/$tag-srv.tsv" 100 120 &
  wp=$!
  remember "$wp"
  $PIN_GEN "$H" run "$scn/intake.json" --target "$SRV_URL" --workers 1 --quiet \
    --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" "$@" --report-dir "$d" >"$work/$tag.log" 2>&1 &
  hp=$!
  remember "$hp"
  "$P" stats "$SRV_CP" "$hp" "$work/$tag-stats.tsv" 100 &
  sp=$!
  remember "$sp"
  fg "$P" watch "$hp" "$work/$tag.tsv" 100 120
  wait "$hp"
  rc=$?
  wait "$sp"
  stats >"$work/$tag-stats.json"
  stop_serve
  wait "$wp" 2>/dev/null
  # Every hub message these clients receive after subscribing is an Update: messages_in counts them all, while
  # update_latency.count misses the ones whose computed latency was not positive (see RESULTS.md).
  upd=$("$P" json "$d/report.json" /metrics/total/counters/messages_in)
  lat_n=$("$P" json "$d/report.json" /metrics/total/latency/update_latency/count)
  p50=$("$P" json "$d/report.json" /metrics/total/latency/update_latency/p50_ns)
  p99=$("$P" json "$d/report.json" /metrics/total/latency/update_latency/p99_ns)
  read -r sdel sdrop spush < <(printf '%s\n%s\n%s\n' "$("$P" json "$work/$tag-stats.json" /deliveries)" \
    "$("$P" json "$work/$tag-stats.json" /dropped_messages)" "$("$P" json "$work/$tag-stats.json" /pushes)" | paste -sd' ')
  # The window: from the server's first delivery until the harness's worker thread has drained its backlog (its
  # CPU stops growing for 0.3 s) or the server's last delivery, whichever is later.
  read -r w0 sw1 _ < <(stats_window "$work/$tag-stats.tsv")
  w1=$(awk -v a="$w0" -v s="$sw1" '{ t[NR]=$1; c[NR]=$6 } END {
    for (i=1;i+3<=NR;i++) if (t[i] > a+0.5 && c[i+3]==c[i]) { e=t[i]; break }
    if (e=="" || e < s) e=s; printf "%.3f\n", e }' "$work/$tag.tsv")
  # CPU of the harness (all threads, and its busiest thread: the worker) and of the server inside the window.
  h_cpu=$(cpu_in "$work/$tag.tsv" "$w0" "$w1" 4)
  h_top=$(cpu_in "$work/$tag.tsv" "$w0" "$w1" 6)
  s_cpu=$(cpu_in "$work/$tag-srv.tsv" "$w0" "$w1" 4)
  awk -v u="$upd" -v hc="$h_cpu" -v ht="$h_top" -v sc="$s_cpu" -v w0="$w0" -v w1="$w1" -v k="$clk" \
    -v sd="$sdel" -v dr="$sdrop" -v sf="$spush" -v p50="$p50" -v p99="$p99" -v ln="$lat_n" -v rc="$rc" 'BEGIN{
      secs=w1-w0; hcs=hc/k; hts=ht/k; scs=sc/k
      printf "exit %d; Updates received %d in %.2f s = %.0f/s wall; harness CPU %.2f s (worker thread %.2f s) => %.2f CPU s per million, %.0f Updates per worker-thread CPU second\n", rc, u, secs, u/secs, hcs, hts, hcs*1e6/u, u/hts
      printf "server: %d deliveries in %d frames (%.2f Updates per frame), %d dropped (slow consumer), CPU %.2f s in the window (%.0f%% of a core); harness worker thread %.0f%% of a core; latency p50 %.1f ms p99 %.1f ms over %d samples\n", sd, sf, (sf>0)?sd/sf:0, dr, scs, 100*scs/secs, 100*hts/secs, p50/1e6, p99/1e6, ln
    }' 2>/dev/null | tee "$work/$tag.txt"
  put "${tag}_updates" "$upd"
  put "${tag}_latency_samples" "$lat_n"
  put "${tag}_updates_per_s_wall" "$(awk -v u="$upd" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", (b>a)?u/(b-a):0}')"
  put "${tag}_updates_per_worker_cpu_s" "$(awk -v u="$upd" -v t="$h_top" -v k="$clk" 'BEGIN{printf "%.0f", (t>0)?u/(t/k):0}')"
  put "${tag}_cpu_s_per_million" "$(awk -v u="$upd" -v t="$h_cpu" -v k="$clk" 'BEGIN{printf "%.2f", (u>0)?(t/k)*1e6/u:0}')"
  put "${tag}_worker_core_pct" "$(awk -v t="$h_top" -v k="$clk" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", 100*(t/k)/(b-a)}')"
  put "${tag}_server_core_pct" "$(awk -v t="$s_cpu" -v k="$clk" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", 100*(t/k)/(b-a)}')"
  put "${tag}_server_deliveries" "$sdel"
  put "${tag}_server_frames" "$spush"
  put "${tag}_updates_per_frame" "$(awk -v d="$sdel" -v f="$spush" 'BEGIN{ if (f+0 > 0) printf "%.3f", d/f; else print "-" }')"
  put "${tag}_cpu_s_per_million_frames" "$(per_frame "$(get "${tag}_cpu_s_per_million")" "$(get "${tag}_updates_per_frame")")"
  put "${tag}_server_dropped" "$sdrop"
  put "${tag}_latency_p99_ms" "$(awk -v v="$p99" 'BEGIN{printf "%.1f", v/1e6}')"
  put "${tag}_exit" "$rc"
}
# The single stream (ONE Update per frame, as real Centro servers mostly push): 1,000 single-Update publishes at
# 100/s alternating K0/K1 (50 per key per second for 10 s), 1,200 subscribers per key = 1.2 million Updates in
# 120,000 frames/s; the server flushes each publish in its own loop turn, so a frame carries 1 Update (the
# server's own pacing, "rate" in /publish, ticks late under this load and puts 1.3-1.8 Updates in a frame).
# Ours publishes with its trigger, the raw reader itself, the peers get bench_rawws's publisher (N=0) on core 0.
single_pubs=1000 single_rate=100
if want intake; then
  intake_run intake "publishes of 50 Updates (the batched stream)"
  intake_run intake1 "$single_pubs single-Update publishes at $single_rate/s (the single stream)" \
    --set "trigger.count=$single_pubs" --set "trigger.rate=$single_rate" --set trigger.http.body.count=1 \
    --set "phases.3.duration=$((single_pubs / single_rate + 2))s" --set phases.4.duration=3s
fi

# ---------------------------------------------------------------------------------------------------------------
if want peers || want peers_wss; then
  # raw_run TAG ARGS...: bench_rawws with 2400 clients on K0/K1 and the stream ARGS (PUBS COUNT RATE) on a fresh server
  raw_run() {
    local tag=$1
    shift
    start_serve 1 || exit 4
    fg timeout 120 $PIN_GEN "$build/tests/bench_rawws" "$SRV_PORT" "$SRV_CP" 2400 2 "$@" >"$work/$tag.txt" 2>&1
    rc=$?
    stats >"$work/$tag-stats.json"
    stop_serve
    cat "$work/$tag.txt"
    kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" "$work/$tag.txt"; }
    r_upd=$(kv updates) r_cpu=$(kv cpu_s) r_b=$(kv rss_base_kib) r_c=$(kv rss_conn_kib)
    put "${tag}_cpu_s_per_million" "$(awk -v c="$r_cpu" -v u="$r_upd" 'BEGIN{printf "%.2f", (u>0)?c*1e6/u:0}')"
    put "${tag}_kib_per_conn" "$(awk -v a="$r_b" -v b="$r_c" 'BEGIN{printf "%.2f", (b-a)/2400}')"
    put "${tag}_updates" "${r_upd:-0}"
    put "${tag}_updates_per_frame" "$(awk -v d="$("$P" json "$work/$tag-stats.json" /deliveries)" \
      -v f="$("$P" json "$work/$tag-stats.json" /pushes)" 'BEGIN{ if (f+0 > 0) printf "%.3f", d/f; else print "-" }')"
    put "${tag}_cpu_s_per_million_frames" "$(per_frame "$(get "${tag}_cpu_s_per_million")" "$(get "${tag}_updates_per_frame")")"
    put "${tag}_exit" "$rc"
    echo "raw reader ($tag): $(get "${tag}_cpu_s_per_million") CPU s per million Updates, $(get "${tag}_kib_per_conn")" \
      "KiB RSS per connection, server $(get "${tag}_updates_per_frame") Updates per frame"
  }
  if want peers; then
    echo "== peer: minimal raw WebSocket reader (bench_rawws: frame headers + counting, no decoding), intake workload"
    raw_run raw 40 50 10
    echo "== peer: raw reader, the single stream ($single_pubs single-Update publishes at $single_rate/s)"
    raw_run raw1 "$single_pubs" 1 "$single_rate"
  fi

  # ---- the real peers: Tsung and Artillery on the same workload (install them with tests/bench/install-peers.sh) --
  # Each tool gets a fresh server (core 0) and runs alone on core 1. peer_run NAME N PUBS [STREAM]: starts the tool
  # with N subscribers (round robin on K0/K1), waits (bounded) until the server's subscription count stops growing,
  # then publishes PUBS publishes of 50 Updates at 10/s alternating K0/K1 (the intake stream; STREAM=single: the
  # single stream, bench_rawws's publisher on core 0, recorded as peer_NAME_cpu1_*) and measures, over the
  # tool's process and its direct children (Tsung's script -> beam.smp; Artillery is one node process with worker
  # threads): RSS per connection (see "Memory per connection" below) and CPU per Update (tool CPU from the server's
  # first delivery until the tool's CPU stops growing or the server's last delivery) / the server's deliveries in
  # that window. PUBS=0: only how many connections it holds.
  pdir="$root/tests/bench/peers"
  peer_hold=${BENCH_PEERS_HOLD:-10000}
  # Tsung binds each socket to a source address before connecting (a port per socket whatever the destination) and
  # keeps the negotiate's HTTP connection open beside the WebSocket: 2 ports per user, more than one address offers
  # next to other runs' TIME_WAIT (EADDRINUSE at ~9,000 users from 127.0.0.1 alone). Sources 127.0.0.41-48.
  tsung_ips=$(for i in $(seq 41 48); do printf '<ip value="127.0.0.%d"/>' "$i"; done)
  have_tsung() { command -v tsung >/dev/null 2>&1 && command -v erl >/dev/null 2>&1; }
  have_artillery() { [ -x "$pdir/node_modules/.bin/artillery" ] && command -v node >/dev/null 2>&1; }
  # sub_count: the server's subscriptions (each tool connection subscribes once), from /stats.
  sub_count() { stats | sed -n 's/.*"subscriptions":\([0-9]*\).*/\1/p'; }
  live_count() { stats | sed -n 's/.*"live":\([0-9]*\).*/\1/p'; }
  deliveries() { stats | sed -n 's/.*"deliveries":\([0-9]*\).*/\1/p'; }
  peer_start() { # NAME N HOLD_S OUTDIR [CERT_DIR]: starts the tool in the background, sets TOOL_PID
    # 600 arrivals/s. Tsung's arrivals are random (exponential gaps), its phase clock starts before the VM is ready
    # and, CPU-bound on its core, it starts only ~250 users/s once it holds thousands: its phase is long enough for
    # 250/s (maxnumber stops it at N). CERT_DIR (make_test_ca): https/wss; Artillery (Node) verifies the server
    # against CERT_DIR/ca.pem given as NODE_EXTRA_CA_CERTS; Tsung 1.7.0 cannot verify (it never asks Erlang's ssl
    # for verify_peer, and OTP 25 defaults to verify_none), which the tables say.
    local name=$1 n=$2 hold=$3 o=$4 cert=${5:-} ramp=$((($2 + 599) / 600 + 1)) type=tcp scheme=ws
    [ "$name" = tsung ] && ramp=$((n / 250 + 3))
    # over ssl Tsung starts fewer users per second (~150/s here, its core doing the handshakes): a longer phase
    [ -n "$cert" ] && type=ssl scheme=wss && [ "$name" = tsung ] && ramp=$((n / 100 + 3))
    mkdir -p "$o"
    case "$name" in
      tsung)
        sed -e "s/@PORT@/$SRV_PORT/g; s/@USERS@/$n/g; s/@RATE@/600/g; s/@RAMP@/$ramp/g; s/@HOLD@/$hold/g" \
          -e "s/@TYPE@/$type/g; s|<ip value=\"@SRC@\"/>|$tsung_ips|; s/@LOADDUR@/$((ramp + hold + 30))/g" \
          "$pdir/tsung-signalr.xml.in" >"$o/tsung.xml"
        # -n: no web dashboard (port 8091); -i: a controller name and cookie of our own
        (cd "$o" && exec $PIN_GEN tsung -n -i "bench$$" -f "$o/tsung.xml" -l "$o/log" start) >"$o/tool.log" 2>&1 &
        ;;
      artillery)
        sed -e "s/@SCHEME@/$scheme/g; s/@PORT@/$SRV_PORT/g; s/@USERS@/$n/g; s/@RAMP@/$ramp/g; s/@HOLD@/$hold/g" \
          -e "s|\"./artillery-signalr.js\"|\"$pdir/artillery-signalr.js\"|" "$pdir/artillery-signalr.yml.in" >"$o/artillery.yml"
        (cd "$o" && ARTILLERY_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 NODE_EXTRA_CA_CERTS=${cert:+$cert/ca.pem} \
          SIGNALR_OPEN_TIMES="$o/open_ms.txt" exec $PIN_GEN "$pdir/node_modules/.bin/artillery" run --quiet \
          "$o/artillery.yml") >"$o/tool.log" 2>&1 &
        ;;
    esac
    TOOL_PID=$!
    remember "$TOOL_PID"
  }
  # wait_subs N MAX_S TSV: until the subscriptions reach N, or stop growing for 3 s, or MAX_S pass; prints the
  # count. TSV gets "wall_s subscriptions" per poll (the connect rate).
  wait_subs() {
    local n=$1 last=-1 same=0 s=0 i
    : >"$3"
    for i in $(seq $(($2 * 5))); do
      s=$(sub_count)
      s=${s:-0}
      echo "$(date +%s.%N) $s" >>"$3"
      [ "$s" -ge "$n" ] && break
      if [ "$s" = "$last" ] && [ "$s" -gt 0 ]; then same=$((same + 1)); else same=0; fi
      [ "$same" -ge 15 ] && break
      last=$s
      sleep 0.2
    done
    echo "$s"
  }
  # mem_samples TSV N T_PUB: from a process's samples (wall rss fds ...): the RSS before its descriptors grow by 2%
  # of N, the RSS holding (the last sample before T_PUB, the first publish), the RSS once 10% of the descriptors
  # held at T_PUB are open, and that fraction (exactly). Prints: base hold m_base m_frac
  mem_samples() {
    awk -v N="$2" -v tp="$3" '
      { t[NR]=$1; r[NR]=$2; f[NR]=$3 } END {
        th=0.02*N; if (th < 30) th=30; lo=-1; a=0
        for (i=1;i<=NR;i++) { if (r[i] <= 0) continue; if (lo < 0 || f[i] < lo) lo=f[i]; if (f[i] >= lo+th) { a=i; break } }
        for (i=1;i<=NR;i++) if (t[i] <= tp) { h=r[i]; fh=f[i] }
        for (i=1;i<=NR;i++) if (r[i] > 0 && fh > lo && f[i] >= lo+0.1*(fh-lo)) { m=i; break }
        printf "%d %d %d %.4f\n", (a>1?r[a-1]:0), h, (m?r[m]:0), (m && fh>lo)?(f[m]-lo)/(fh-lo):0 }' "$1"
  }
  # peer_run NAME N PUBS [STREAM] [CERT_DIR]: CERT_DIR (make_test_ca): over https/wss against `serve --tls-cert`,
  # recorded as peer_NAME_wss_*.
  peer_run() {
    local name=$1 n=$2 pubs=$3 stream=${4:-batched} cert=${5:-} key=$1 held t_pub i due now what srv=() over=""
    [ -n "$cert" ] && key=${name}_wss srv=(--tls-cert "$cert/server.pem" --tls-key "$cert/server.key") over=" over wss"
    local o="$work/peer-$key-$n"
    what=", $pubs publishes of 50 Updates at 10/s (the intake stream)"
    [ "$stream" = single ] && o="$o-single" what=", $pubs single-Update publishes at $single_rate/s (the single stream)"
    [ "$pubs" -gt 0 ] || what=", connections only"
    echo "== peer $name$over: $n subscribers$what"
    start_serve 1 "${srv[@]}" || return 1
    peer_start "$name" "$n" 120 "$o" "$cert"
    "$P" watch "$TOOL_PID" "$o/watch.tsv" 100 200 &
    local wp=$!
    remember "$wp"
    "$P" stats "$SRV_CP" "$TOOL_PID" "$o/stats.tsv" 100 &
    local sp=$!
    remember "$sp"
    held=$(wait_subs "$n" 90 "$o/subs.tsv")
    # connect rate: subscriptions per second from 1% to 99% of those held (the tools are asked for 600/s)
    local run=""
    [ "$stream" = single ] && run=1
    [ "$pubs" -gt 0 ] || run=_max
    put "peer_${key}_connect_per_s$run" "$(awk -v h="$held" '$2 >= 0.01*h && !a {a=$1} $2 >= 0.99*h && !b {b=$1}
      END{ if (h > 0 && b > a) printf "%.0f", 0.98*h/(b-a); else print "-" }' "$o/subs.tsv")"
    sleep 1 # let the last subscriptions' acknowledgements and the tool's bookkeeping settle
    t_pub=$(date +%s.%N)
    if [ "$stream" = single ]; then
      fg timeout 60 $PIN_SRV "$build/tests/bench_rawws" "$SRV_PORT" "$SRV_CP" 0 2 "$pubs" 1 "$single_rate" >"$o/pub.txt" 2>&1
    elif [ "$pubs" -gt 0 ]; then
      due=$(date +%s%N)
      for i in $(seq 0 $((pubs - 1))); do
        $PIN_SRV curl -s -m 2 -o /dev/null -X POST -H 'Content-Type: application/json' \
          -d "{\"hub\":\"ResourceEventHub\",\"key\":\"K$((i % 2))\",\"count\":50}" "http://127.0.0.1:$SRV_CP/publish"
        due=$((due + 100000000))
        now=$(date +%s%N)
        [ "$due" -gt "$now" ] && sleep "$(awk -v d=$((due - now)) 'BEGIN{printf "%.3f", d/1e9}')"
      done
    fi
    if [ "$pubs" -gt 0 ]; then
      # bounded: until the server's deliveries stop growing for 1 s (at most 30 s)
      local d0=-1 d1
      for i in $(seq 30); do
        d1=$(deliveries)
        [ "$d1" = "$d0" ] && break
        d0=$d1
        sleep 1
      done
    fi
    live=$(live_count)
    stats >"$o/stats.json"
    end_pid "$TOOL_PID"
    wait "$wp" "$sp" 2>/dev/null
    stop_serve
    # Connect latency as the tool times it: Tsung's `connect` (TCP connect, plus the TLS handshake over ssl, of both
    # its sockets per user; the mean since the start: a dump's interval mean and count weighed with the earlier
    # dumps' mean and count, its last two fields; dumps every 10 s, so the last seconds' are missing); Artillery's
    # WebSocket open (TCP, TLS, upgrade; the median of the processor's samples, see artillery-signalr.js).
    local lat=-
    case "$name" in
      tsung) lat=$(cat "$o"/log/*/tsung.log 2>/dev/null | awk '$1=="stats:" && $2=="connect" && $3+$9 > 0 {
        m=($3*$4 + $9*$8)/($3+$9) } END{ if (m != "") printf "%.1f", m; else print "-" }') ;;
      artillery) lat=$(sort -g "$o/open_ms.txt" 2>/dev/null | awk '{v[NR]=$1}
        END{ if (NR) printf "%.1f", v[int((NR+1)/2)]; else print "-" }') ;;
    esac
    put "peer_${key}_connect_ms$run" "$lat"
    # Memory per connection, two ways. Simple: (RSS just before publishing - RSS of the last sample before the
    # tool's descriptors grow by 2% of N) / held. Marginal: the same from the sample where 10% of the connections
    # are open, over the other 90%: Artillery (Node) is still loading its workers when its first connections open,
    # which the simple figure counts as connection memory. The marginal figure is the one compared with ours.
    read -r base hold_kb m_base m_frac < <(mem_samples "$o/watch.tsv" "$n" "$t_pub")
    per_s=$(awk -v b="$base" -v h="$hold_kb" -v n="$held" 'BEGIN{ if (n>0 && b>0) printf "%.2f", (h-b)/n; else print "-" }')
    per=$(awk -v b="$m_base" -v h="$hold_kb" -v n="$held" -v f="$m_frac" \
      'BEGIN{ if (n>0 && b>0 && f<1) printf "%.2f", (h-b)/(n*(1-f)); else print "-" }')
    local mem pct
    pct=$(awk -v f="$m_frac" 'BEGIN{printf "%.0f", 100*f}')
    mem="RSS $base KiB before connecting, $m_base KiB with $pct% of the connections, $hold_kb KiB holding"
    mem="$mem => $per KiB per connection (marginal; $per_s simple)"
    put "peer_${key}_connections$([ "$pubs" -gt 0 ] || echo _max)" "${held:-0}"
    if [ "$pubs" -eq 0 ]; then
      echo "$name: held $held of $n subscriptions (live WebSocket connections at the end: $live); $mem"
      put "peer_${key}_max_kib_per_conn" "$per"
      put "peer_${key}_max_kib_per_conn_simple" "$per_s"
      return 0
    fi
    read -r w0 sw1 sdel < <(stats_window "$o/stats.tsv")
    w1=$(awk -v a="$w0" -v s="$sw1" '{ t[NR]=$1; c[NR]=$4 } END {
      for (i=1;i+3<=NR;i++) if (t[i] > a+0.5 && c[i+3]==c[i]) { e=t[i]; break }
      if (e=="" || e < s) e=s; printf "%.3f\n", e }' "$o/watch.tsv")
    cpu=$(cpu_in "$o/watch.tsv" "$w0" "$w1" 4)
    cpm=$(awk -v c="$cpu" -v k="$clk" -v u="$sdel" 'BEGIN{ if (u>0) printf "%.2f", (c/k)*1e6/u; else print "-" }')
    if [ "$stream" = single ]; then # the server's frames (pushes) and Updates (deliveries) over the whole run
      local upf
      upf=$(awk -v d="$("$P" json "$o/stats.json" /deliveries)" -v f="$("$P" json "$o/stats.json" /pushes)" \
        'BEGIN{ if (f+0 > 0) printf "%.3f", d/f; else print "-" }')
      echo "$name (single stream): held $held of $n subscriptions (live at the end: $live); server delivered $sdel" \
        "Updates ($upf per frame) in $(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}') s, tool CPU" \
        "$(awk -v c="$cpu" -v k="$clk" 'BEGIN{printf "%.2f", c/k}') s => $cpm CPU s per million Updates"
      put "peer_${key}_connections1" "${held:-0}"
      put "peer_${key}_cpu1_s_per_million" "$cpm"
      put "peer_${key}_deliveries1" "$sdel"
      put "peer_${key}_updates_per_frame1" "$upf"
      put "peer_${key}_cpu1_s_per_million_frames" "$(per_frame "$cpm" "$upf")"
      return 0
    fi
    echo "$name: held $held of $n subscriptions (live at the end: $live); $mem; server delivered $sdel Updates in" \
      "$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}') s, tool CPU $(awk -v c="$cpu" -v k="$clk" \
      'BEGIN{printf "%.2f", c/k}') s => $cpm CPU s per million Updates"
    put "peer_${key}_kib_per_conn" "$per"
    put "peer_${key}_kib_per_conn_simple" "$per_s"
    put "peer_${key}_rss_hold_kib" "$hold_kb"
    # Tsung's RSS grows while Updates arrive (received binaries wait for a garbage collection): the peak, for the record
    put "peer_${key}_rss_peak_kib" "$(awk '$2>m{m=$2} END{print m+0}' "$o/watch.tsv")"
    put "peer_${key}_cpu_s_per_million" "$cpm"
    put "peer_${key}_deliveries" "$sdel"
  }
  # peer_ready TOOL: whether it is installed (else says so and records it); Erlang distribution needs epmd for
  # Tsung: run our own in the foreground (so it is ended with the rest) unless one runs.
  peer_ready() {
    if ! "have_$1"; then
      echo "== peer $1: not installed (tests/bench/install-peers.sh installs it); skipped"
      put "peer_$1_connections" "-"
      return 1
    fi
    if [ "$1" = tsung ] && ! epmd -names >/dev/null 2>&1; then
      epmd >/dev/null 2>&1 &
      remember $!
      for _ in $(seq 20); do epmd -names >/dev/null 2>&1 && break; sleep 0.1; done
    fi
  }
  peer_tools=${BENCH_PEERS_TOOLS:-tsung artillery}
  for tool in $peer_tools; do
    want peers && peer_ready "$tool" || continue
    peer_run "$tool" 2400 40
    peer_run "$tool" 2400 "$single_pubs" single
    [ "$peer_hold" -gt 0 ] && peer_run "$tool" "$peer_hold" 0
  done
  # ratios to ours: their figure / ours (ours from density and intake in the same run)
  for tool in tsung artillery; do
    want peers || break
    put "peer_${tool}_mem_ratio" "$(awk -v p="$(get "peer_${tool}_kib_per_conn")" -v o="$(get density_kib_per_client)" \
      'BEGIN{ if (p ~ /^[0-9.]+$/ && o ~ /^[0-9.]+$/ && o+0 > 0) printf "%.1f", p/o; else print "-" }')"
    put "peer_${tool}_cpu_ratio" "$(awk -v p="$(get "peer_${tool}_cpu_s_per_million")" -v o="$(get intake_cpu_s_per_million)" \
      'BEGIN{ if (p ~ /^[0-9.]+$/ && o ~ /^[0-9.]+$/ && o+0 > 0) printf "%.1f", p/o; else print "-" }')"
    put "peer_${tool}_cpu1_ratio" "$(awk -v p="$(get "peer_${tool}_cpu1_s_per_million")" -v o="$(get intake1_cpu_s_per_million)" \
      'BEGIN{ if (p ~ /^[0-9.]+$/ && o ~ /^[0-9.]+$/ && o+0 > 0) printf "%.1f", p/o; else print "-" }')"
  done

  # ---- peers_wss (issue #13): the same workload over https/wss against `serve --tls-cert` (make_test_ca, as the
  # wss_serve rows): ours (the intake scenario with --ca-file, verification on), then each tool (batched and single
  # stream, 2,400 subscribers); with `intake peers` in the same run the table puts ws and wss side by side.
  # ours_conn TAG: from the intake run's process samples, RSS per client as the peers' marginal figure (the intake
  # scenario connects at once, with no idle sample before: from 10% of the descriptors held at the first delivery
  # to all) and clients per second of the ramp (density_analyse; asked: 3,000/s), plus the report's connect
  # (WebSocket upgrade) latency p50.
  report_ms() { # REPORT POINTER: a latency of a run report in ms (from ns), "-" when absent
    "$P" json "$1" "$2" 2>/dev/null |
      awk '{ if ($1 ~ /^[0-9.]+$/) printf "%.1f", $1/1e6; else print "-" } END{ if (!NR) print "-" }'
  }
  ours_conn() {
    local w0 base hold mb mf rate _r
    read -r w0 _r < <(stats_window "$work/$1-stats.tsv")
    read -r base hold mb mf < <(mem_samples "$work/$1.tsv" 2400 "$w0")
    put "${1}_kib_per_client" "$(awk -v b="$mb" -v h="$hold" -v f="$mf" \
      'BEGIN{ if (b>0 && f<1) printf "%.2f", (h-b)/(2400*(1-f)); else print "-" }')"
    read -r _r _r _r rate _r < <(density_analyse "$work/$1.tsv" 2400)
    put "${1}_connect_per_s" "$rate"
    put "${1}_connect_ms" "$(report_ms "$work/$1/report.json" /metrics/total/latency/connect/p50_ns)"
  }
  if want peers_wss; then
    pc="$work/tls"
    make_test_ca "$pc" || exit 4
    want intake && ours_conn intake
    intake_srv=(--tls-cert "$pc/server.pem" --tls-key "$pc/server.key")
    intake_run intake_wss "publishes of 50 Updates (the batched stream), over wss" --ca-file "$pc/ca.pem"
    intake_run intake1_wss "$single_pubs single-Update publishes at $single_rate/s (the single stream), over wss" \
      --ca-file "$pc/ca.pem" --set "trigger.count=$single_pubs" --set "trigger.rate=$single_rate" \
      --set trigger.http.body.count=1 --set "phases.3.duration=$((single_pubs / single_rate + 2))s" \
      --set phases.4.duration=3s
    intake_srv=()
    ours_conn intake_wss
    put intake_wss_tls_handshake_ms \
      "$(report_ms "$work/intake_wss/report.json" /metrics/total/latency/tls_handshake/p50_ns)"
    for tool in $peer_tools; do
      peer_ready "$tool" || continue
      peer_run "$tool" 2400 40 batched "$pc"
      peer_run "$tool" 2400 "$single_pubs" single "$pc"
    done
  fi
fi

# ---------------------------------------------------------------------------------------------------------------
if want fanout; then
  # closed: one publish at a time (the next once every subscriber has the last) = how fast one fan-out completes;
  # open: single-Update publishes offered at 100/s whatever the server's progress, as a busy Centro publishes.
  for mode in "closed1 20 1 0" "open1 300 1 100" "closed10 10 10 0"; do
    read -r name pubs cnt rate <<<"$mode"
    echo "== server fan-out ($name): one server process, 10000 WebSocket subscribers (raw epoll reader)," \
      "$pubs publishes x count $cnt$([ "$rate" != 0 ] && echo " offered at $rate/s")"
    start_serve 1 || exit 4
    fg timeout 180 $PIN_GEN "$build/tests/bench_server_fanout" 10000 "$pubs" "$cnt" "$SRV_PORT" "$SRV_CP" "$rate" \
      >"$work/fanout-$name.txt" 2>&1
    rc=$?
    stop_serve
    grep -v '^stats:' "$work/fanout-$name.txt"
    put "fanout_${name}_deliveries_per_s" "$(sed -n 's/.*= \([0-9]*\) deliveries\/s/\1/p' "$work/fanout-$name.txt")"
    put "fanout_${name}_updates_per_frame" "$(sed -n 's/^frames [0-9]* (\([0-9.]*\) Updates per frame.*/\1/p' "$work/fanout-$name.txt")"
    put "fanout_${name}_p99_ms" "$(sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p' "$work/fanout-$name.txt")"
    put "fanout_${name}_exit" "$rc"
  done
fi

# ---------------------------------------------------------------------------------------------------------------
if want transports; then
  for t in webSockets serverSentEvents longPolling; do
    # One descriptor per client on every transport; SSE and long polling add a budget of /send requests in flight
    # per worker (ch_limits_fds_needed), so 10,000 of each fit the 20,000 descriptors.
    n=10000
    echo "== transport $t: $n clients in one harness process, 10 keys, 20 publishes/s (~$((n * 2)) Updates/s offered)"
    start_serve 1 || exit 4
    d="$work/transport-$t"
    $PIN_GEN "$H" run "$scn/transport.json" --target "$SRV_URL" --set "clients.0.transport=$t" --set "clients.0.count=$n" --quiet \
      --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" --report-dir "$d" >"$work/transport-$t.log" 2>&1 &
    hp=$!
    remember "$hp"
    "$P" stats "$SRV_CP" "$hp" "$work/transport-$t-stats.tsv" 100 &
    sp=$!
    remember "$sp"
    "$P" watch "$SRV_PID" "$work/transport-$t-srv.tsv" 100 300 &
    swp=$!
    remember "$swp"
    fg "$P" watch "$hp" "$work/transport-$t.tsv" 100 300
    wait "$hp"
    rc=$?
    wait "$sp"
    stop_serve
    wait "$swp"
    conn=$("$P" json "$d/report.json" /metrics/total/counters/clients_connected)
    exp=$("$P" json "$d/report.json" /metrics/total/counters/updates_expected)
    got=$("$P" json "$d/report.json" /metrics/total/counters/updates_received)
    p99=$("$P" json "$d/report.json" /metrics/total/latency/update_latency/p99_ns)
    # Throughput: the server's deliveries over its delivery window; CPU: the harness's inside that window.
    read -r w0 w1 sdel < <(stats_window "$work/transport-$t-stats.tsv")
    rss=$(awk '$2>m{m=$2} END{print m}' "$work/transport-$t.tsv")
    cpu=$(cpu_in "$work/transport-$t.tsv" "$w0" "$w1" 4)
    rate=$(awk -v u="$sdel" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", (b>a)?u/(b-a):0}')
    cpm=$(awk -v c="$cpu" -v k="$clk" -v u="$got" 'BEGIN{printf "%.2f", (u>0)?(c/k)*1e6/u:0}')
    scpu=$(cpu_in "$work/transport-$t-srv.tsv" "$w0" "$w1" 4)
    hpct=$(awk -v c="$cpu" -v k="$clk" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", (b>a)?100*(c/k)/(b-a):0}')
    spct=$(awk -v c="$scpu" -v k="$clk" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", (b>a)?100*(c/k)/(b-a):0}')
    fails=$("$P" json "$d/report.json" /metrics/total/failures)
    echo "exit $rc; connected $conn; Updates received $got of $exp expected; server delivered $sdel in" \
      "$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b-a}') s = $rate/s; latency p99" \
      "$(num "$(awk -v v="$p99" 'BEGIN{print v/1e6}')" 1) ms; peak RSS $rss KiB ($(awk -v r="$rss" -v n="$n" \
      'BEGIN{printf "%.1f", r/n}') KiB/client); harness CPU $(awk -v c="$cpu" -v k="$clk" 'BEGIN{printf "%.2f", c/k}')" \
      "s in the window = $cpm CPU s per million Updates; core use harness $hpct% (2 workers), server $spct%;" \
      "failures $fails"
    put "tr_${t}_connected" "$conn"
    put "tr_${t}_expected" "$exp"
    put "tr_${t}_received" "$got"
    put "tr_${t}_updates_per_s" "$rate"
    put "tr_${t}_p99_ms" "$(awk -v v="$p99" 'BEGIN{printf "%.1f", v/1e6}')"
    put "tr_${t}_rss_kib" "$rss"
    put "tr_${t}_cpu_s_per_million" "$cpm"
    put "tr_${t}_harness_core_pct" "$hpct"
    put "tr_${t}_server_core_pct" "$spct"
    put "tr_${t}_exit" "$rc"
  done
fi

# ---------------------------------------------------------------------------------------------------------------
if want fallback; then
  # The engine's own SSE / long-polling benchmark (tests/bench/bench_fallback.c, the fallback engineer's): clients
  # made with ch_client directly (no runner, so no 2-descriptors-per-client budget), server in a child process.
  for t in sse lp; do
    echo "== engine $t: 10000 clients in one process (bench_fallback), 20 Updates published to their one key"
    fg timeout 150 "$build/tests/bench_fallback" -t "$t" -n 10000 -m 20 -s 127.0.0.2-127.0.0.9 >"$work/fallback-$t.txt" 2>&1
    rc=$?
    line=$(grep '^transport=' "$work/fallback-$t.txt" | tail -1)
    echo "exit $rc; ${line:-no result line}"
    fv() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p" | sed 's/\/.*//'; }
    put "fb_${t}_connected" "$(fv connected)"
    put "fb_${t}_conn_per_s" "$(fv conn_per_s)"
    put "fb_${t}_kib_per_client" "$(fv rss_kib_per_client)"
    put "fb_${t}_updates" "$(fv updates)"
    put "fb_${t}_updates_per_s" "$(fv updates_per_s)"
    put "fb_${t}_exit" "$rc"
  done
fi

# ---------------------------------------------------------------------------------------------------------------
if want storm; then
  # The reconnect storm (issue #18): the embedded endpoint drops every connection at once; the official-js clients come
  # back after their 2 s delay. The times until 50/99/100% are back and receiving, from the run's summary.
  sn=${BENCH_STORM_CLIENTS:-10000}
  echo "== storm: $sn official-js clients dropped at once (scenarios/reconnect-storm.json)"
  fg timeout 300 $PIN_GEN "$H" run "$root/scenarios/reconnect-storm.json" --report-dir "$work/storm" \
    --set "clients.0.count=$sn" --set 'clients.0.ramp={"rate": 2000}' --set 'phases.3.timeout="120s"' \
    >"$work/storm.txt" 2>&1
  rc=$?
  sed -n '/recovery from the drop/,/drop:/p' "$work/storm.txt"
  echo "exit $rc"
  sv() { awk -v w="$1" -v k="$2" '$1==w { for (i=2;i<NF;i++) if ($i==k) { print $(i+1); exit } }' "$work/storm.txt"; }
  for w in back receiving; do
    put "storm_${w}_p50" "$(sv "$w" p50)"
    put "storm_${w}_p99" "$(sv "$w" p99)"
    put "storm_${w}_p100" "$(sv "$w" '100%')"
  done
  put storm_clients "$(sed -n 's/.*recovery from the drop: \([0-9]*\) clients.*/\1/p' "$work/storm.txt")"
  put storm_lost "$(sed -n 's/.*Updates published while away [0-9]*: replayed [0-9]*, lost \([0-9]*\).*/\1/p' "$work/storm.txt")"
  put storm_exit "$rc"
fi

# ---------------------------------------------------------------------------------------------------------------
if want live; then
  # Watching a run (issue #15) must not slow it: the same run plain, then with --metrics-listen and --dashboard while
  # a scraper GETs /metrics every second and a page's event stream is open (curl -N). The harness's CPU over the
  # whole run per Update received; the pair alternates BENCH_LIVE_REPS times and the least CPU of each kind is
  # compared (on a shared machine noise only adds).
  ln=${BENCH_LIVE_CLIENTS:-5000} lsec=${BENCH_LIVE_SECONDS:-20} lreps=${BENCH_LIVE_REPS:-3}
  echo "== live: $ln WebSocket clients, 10 keys, 20 publishes/s for $lsec s; unwatched vs scraped + dashboard, x$lreps"
  live_run() { # TAG WATCHED: puts "live_<TAG>_cpu_s_per_million"
    local tag=$1 watched=$2 d="$work/live-$1" extra=() hp wp mp dp i
    start_serve 1 || return 1
    [ "$watched" = 1 ] && extra=(--metrics-listen 127.0.0.1:0 --dashboard 127.0.0.1:0)
    $PIN_GEN "$H" run "$scn/transport.json" --target "$SRV_URL" --set "clients.0.count=$ln" --quiet \
      --set "phases.3.duration=${lsec}s" --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" \
      --report-dir "$d" "${extra[@]}" >"$d.log" 2>&1 &
    hp=$!
    remember "$hp"
    "$P" watch "$hp" "$d.tsv" 100 600 &
    wp=$!
    remember "$wp"
    if [ "$watched" = 1 ]; then
      for i in $(seq 100); do grep -q '^dashboard: ' "$d.log" 2>/dev/null && break; sleep 0.1; done
      mp=$(sed -n 's/^metrics: http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$d.log")
      dp=$(sed -n 's/^dashboard: http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$d.log")
      curl -sN "http://127.0.0.1:$dp/events" >/dev/null 2>&1 &
      remember $!
      (while kill -0 "$hp" 2>/dev/null; do curl -s -m 2 "http://127.0.0.1:$mp/metrics" >/dev/null; sleep 1; done) &
      remember $!
    fi
    wait "$hp"
    local rc=$?
    wait "$wp"
    stop_serve
    local cpu got
    cpu=$(awk '$4>m{m=$4} END{print m+0}' "$d.tsv")
    got=$("$P" json "$d/report.json" /metrics/total/counters/updates_received)
    local cpm
    cpm=$(awk -v c="$cpu" -v k="$clk" -v u="$got" 'BEGIN{printf "%.3f", (u>0)?(c/k)*1e6/u:0}')
    echo "  $tag: exit $rc; $got Updates; harness CPU $(awk -v c="$cpu" -v k="$clk" 'BEGIN{printf "%.2f", c/k}') s =" \
      "$cpm CPU s per million Updates"
    put "live_${tag}_cpu_s_per_million" "$cpm"
    put "live_${tag}_exit" "$rc"
  }
  for r in $(seq "$lreps"); do
    live_run "plain$r" 0
    live_run "watched$r" 1
  done
  least() { for r in $(seq "$lreps"); do get "live_$1${r}_cpu_s_per_million"; done | sort -g | head -1; }
  put live_plain_cpu_s_per_million "$(least plain)"
  put live_watched_cpu_s_per_million "$(least watched)"
  put live_overhead_pct "$(awk -v a="$(least watched)" -v b="$(least plain)" \
    'BEGIN{ if (b+0 > 0) printf "%.1f", 100*(a/b-1); else print "-" }')"
fi
if want wss; then
  # ws and wss side by side (issue #13): the harness's own client, one worker thread, against a small lws server in
  # a child process (bench_wss pins it to core 0, itself to core 1); the same N clients connect, idle, and 20 of them
  # then receive single-Update frames as fast as the server writes them. RESUME=0: the server refuses resumption.
  for m in "ws 1" "wss 1" "wss 0"; do
    set -- $m
    tag="wss_$1$([ "$2" = 0 ] && echo _full)"
    echo "== $tag: $wss_n clients over $1:// (bench_wss, one worker; $([ "$2" = 0 ] && echo "every TLS handshake full" || echo "sessions resumed"))"
    fg timeout 300 "$build/tests/bench_wss" "$1" "$wss_n" 20 3 "$2" >"$work/$tag.txt" 2>&1
    rc=$?
    line=$(grep -E '^wss? clients=' "$work/$tag.txt" | tail -1)
    echo "exit $rc; ${line:-no result line}"
    bv() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    for k in clients failed connect_per_s cpu_us_per_connect tls_per_s kib_per_client heap_kib_per_client \
      cpu_ns_per_update tls_full tls_resumed; do
      put "${tag}_$k" "$(bv "$k")"
    done
    put "${tag}_exit" "$rc"
  done
  # CPU per Update: 20 clients all streaming, ws and wss alternately three times, the median of each (one run swings
  # with what else the box does: 5-10 us per Update for ws alone on this loaded 2-core box)
  : >"$work/upd_ws.txt"
  : >"$work/upd_wss.txt"
  for _ in 1 2 3; do
    for p in ws wss; do
      fg timeout 120 "$build/tests/bench_wss" "$p" 20 20 3 1 >"$work/upd.txt" 2>&1
      sed -n 's/.* cpu_ns_per_update=\([0-9]*\).*/\1/p' "$work/upd.txt" >>"$work/upd_$p.txt"
    done
  done
  med() { sort -n "$1" | awk '{a[NR]=$1} END{ if (NR) print a[int((NR+1)/2)]; else print "-" }'; }
  put wss_upd_ws_ns "$(med "$work/upd_ws.txt")"
  put wss_upd_wss_ns "$(med "$work/upd_wss.txt")"
  echo "CPU ns per Update, 3 runs each: ws $(tr '\n' ' ' <"$work/upd_ws.txt")/ wss $(tr '\n' ' ' <"$work/upd_wss.txt")"
  put wss_cpu_ratio "$(awk -v a="$(get wss_upd_wss_ns)" -v b="$(get wss_upd_ws_ns)" \
    'BEGIN{ if (a ~ /^[0-9.]+$/ && b+0 > 0) printf "%.2f", a/b; else print "-" }')"
  # Bare TLS handshakes (bench_wss hs: no HTTP, no WebSocket), 32 at a time: the client's and the server's CPU per
  # handshake each, and so handshakes per second one harness core could do; resumed, then every one full.
  for r in 1 0; do
    tag="wss_hs$r"
    fg timeout 300 "$build/tests/bench_wss" hs "$([ "$r" = 1 ] && echo 3000 || echo 2000)" 0 0 "$r" >"$work/$tag.txt" 2>&1
    line=$(grep -E '^hs handshakes=' "$work/$tag.txt" | tail -1)
    echo "== $tag: ${line:-no result line}"
    for k in handshakes full resumed per_s client_us_per_hs server_us_per_hs client_hs_per_core_s miss_none \
      miss_rejected; do
      put "${tag}_$k" "$(echo "$line" | tr ' ' '\n' | sed -n "s/^$k=//p")"
    done
  done
fi
if want wss_serve; then
  # Against `serve --tls-cert` itself (issue #13): a test CA and an ECDSA P-256 certificate for 127.0.0.1 made here.
  c="$work/tls"
  make_test_ca "$c" || exit 4
  tls_srv=(--tls-cert "$c/server.pem" --tls-key "$c/server.key")
  # Density over wss, as the ws density row (2 server processes, 39 source addresses, the descriptor limit raised
  # to the hard limit by the harness): clients held by ONE harness process, RSS per idle client from its samples,
  # and the TLS handshakes of the connect ramp (the two serve processes share their session-ticket keys).
  wd=${BENCH_WSS_DENSITY:-$density_n}
  if [ "$wd" -gt 0 ]; then # BENCH_WSS_DENSITY=0: the storm alone
    echo "== wss_density: $wd wss clients in ONE harness process (server: serve --tls-cert --processes 2)"
    start_serve 2 "${tls_srv[@]}" || exit 4
    d="$work/wss-density"
    $PIN_GEN "$H" run "$scn/density.json" --target "$SRV_URL" --ca-file "$c/ca.pem" --set "clients.1.count=$wd" \
      --set "phases.2.timeout=$((60 + wd / 40))s" --quiet --source-addresses 127.0.0.2-127.0.0.40 --report-dir "$d" \
      >"$work/wss-density.log" 2>&1 &
    hp=$!
    remember "$hp"
    fg "$P" watch "$hp" "$work/wss-density.tsv" 50 400
    wait "$hp"
    rc=$?
    stop_serve
    read -r base hold per rate dt cpu_hs peak_kb < <(density_analyse "$work/wss-density.tsv" "$wd")
    peak=$("$P" json "$d/report.json" /metrics/total/connected_peak)
    errs=$("$P" json "$d/report.json" /metrics/total/counters/connect_errors)
    full=$("$P" json "$d/report.json" /metrics/total/counters/tls_handshakes_full)
    resd=$("$P" json "$d/report.json" /metrics/total/counters/tls_handshakes_resumed)
    hs50=$("$P" json "$d/report.json" /metrics/total/latency/tls_handshake/p50_ns)
    # handshakes per second of the ramp: the report's counts over the 1%..99% window, scaled to it (98% of them)
    read -r fps rps < <(awk -v f="$full" -v r="$resd" -v t="$dt" 'BEGIN{ if (t+0 > 0 && f ~ /^[0-9]+$/)
      printf "%.0f %.0f\n", 0.98*f/t, 0.98*r/t; else print "- -" }')
    echo "exit $rc; connected peak $peak (1 idle + $wd), connect errors $errs; baseline RSS $base KiB, hold RSS" \
      "$hold KiB => $per KiB/client; $rate clients/s; harness CPU $cpu_hs us per client; TLS handshakes $full full +" \
      "$resd resumed ($fps/s full, $rps/s resumed in the ramp; p50 $((${hs50%.*} / 1000)) us); peak RSS $peak_kb KiB"
    put wssd_clients "$((peak - 1))"
    put wssd_connect_errors "$errs"
    put wssd_kib_per_client "$per"
    put wssd_rss_hold_kib "$hold"
    put wssd_clients_per_s "$rate"
    put wssd_cpu_us_per_client "$cpu_hs"
    put wssd_tls_full "$full"
    put wssd_tls_resumed "$resd"
    put wssd_tls_full_per_s "$fps"
    put wssd_tls_resumed_per_s "$rps"
    put wssd_rss_peak_kib "$peak_kb"
    put wssd_exit "$rc"
  fi
  # Reconnect storm: every wss connection dropped by the endpoint (POST /drop) once all are subscribed; the report's
  # reconnect histogram says when each was back (from the drop, SignalR's 2 s reconnect delay included), and the
  # trigger phase after the storm hold that they receive again (delivery ratio).
  sn=${BENCH_WSS_STORM:-10000}
  echo "== wss_storm: $sn wss clients dropped by serve --tls-cert's POST /drop, reconnecting"
  start_serve 1 "${tls_srv[@]}" || exit 4
  d="$work/wss-storm"
  # the storm hold: long enough for every client to be back at the connect rate this box managed (~75/s loaded)
  $PIN_GEN "$H" run "$scn/wss-storm.json" --target "$SRV_URL" --ca-file "$c/ca.pem" --set "clients.0.count=$sn" \
    --set "phases.2.duration=$((20 + sn / 50))s" --set "phases.0.timeout=$((60 + sn / 40))s" \
    --set "trigger.http.url=http://127.0.0.1:$SRV_CP/publish" --quiet --report-dir "$d" >"$work/wss-storm.log" 2>&1 &
  hp=$!
  remember "$hp"
  dropped=-
  for _ in $(seq 1800); do # until every client is subscribed (at most 180 s), then drop them all
    kill -0 "$hp" 2>/dev/null || break
    subs=$("$P" json <(stats) /subscriptions 2>/dev/null)
    if [ "${subs:-0}" -ge "$sn" ] 2>/dev/null; then
      sleep 0.5
      dropped=$(curl -s -m 60 -d '{}' "http://127.0.0.1:$SRV_CP/drop" | sed -n 's/.*"dropped":\([0-9]*\).*/\1/p')
      break
    fi
    sleep 0.1
  done
  fg "$P" watch "$hp" "$work/wss-storm.tsv" 100 400
  wait "$hp"
  rc=$?
  stop_serve
  rj="$d/report.json"
  rec=$("$P" json "$rj" /metrics/total/counters/reconnects)
  r50=$("$P" json "$rj" /metrics/total/latency/reconnect/p50_ns)
  r99=$("$P" json "$rj" /metrics/total/latency/reconnect/p99_ns)
  rmax=$("$P" json "$rj" /metrics/total/latency/reconnect/max_ns)
  ratio=$(awk -v e="$("$P" json "$rj" /metrics/total/counters/updates_expected)" \
    -v g="$("$P" json "$rj" /metrics/total/counters/updates_received)" \
    'BEGIN{ if (e+0 > 0) printf "%.4f", g/e; else print "-" }')
  res_s=$("$P" json "$rj" /metrics/total/counters/tls_handshakes_resumed)
  full_s=$("$P" json "$rj" /metrics/total/counters/tls_handshakes_full)
  miss_s=""
  for m in no_session other_name expired rejected; do
    miss_s="$miss_s $m $("$P" json "$rj" /metrics/total/counters/tls_resume_miss_$m 2>/dev/null || echo 0)"
  done
  # the slowest reconnect is "all back" only when every client did reconnect (the others gave up after
  # DisconnectTimeout: the report's failures say so)
  back=$(awk -v m="$rmax" -v r="$rec" -v n="$sn" 'BEGIN{ if (m !~ /^[0-9.]+$/) print "-";
    else if (r+0 < n+0) print "never"; else printf "%.1f", m/1e9 }')
  echo "exit $rc; dropped $dropped of $sn; reconnects $rec; reconnect p50 $(num "$r50" | awk '{printf "%.2f", $1/1e9}') s," \
    "p99 $(num "$r99" | awk '{printf "%.2f", $1/1e9}') s, all back within: $back s of the drop (2 s of it SignalR's delay);" \
    "delivery after the storm to the clients still connected $ratio; TLS handshakes $full_s full + $res_s resumed" \
    "(full by cause:$miss_s)"
  put wss_storm_clients "$sn"
  put wss_storm_dropped "$dropped"
  put wss_storm_reconnects "$rec"
  put wss_storm_back_s "$back"
  put wss_storm_p99_s "$(num "$r99" | awk '{printf "%.2f", $1/1e9}')"
  put wss_storm_delivery_ratio "$ratio"
  put wss_storm_exit "$rc"
fi

# ---------------------------------------------------------------------------------------------------------------
# The table and the JSON file.
row() { printf '%-34s %-26s %-22s %s\n' "$1" "$2" "$3" "$4"; }
ok() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN{ if (v !~ /^[0-9.]+$/) {print "n/a"; exit}
  if ((op==">=" && v+0>=t+0) || (op=="<=" && v+0<=t+0)) print "met"; else print "NOT met" }'; }
echo
echo "== results ($(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB; $stamp)"
row "measure" "value" "target" "verdict"
if want density; then
  row "1 clients held, one process" "$(get density_clients)" ">= 19000" "$(ok "$(get density_clients)" 19000 '>=')"
  row "1 harness RSS per client" "$(get density_kib_per_client) KiB" "<= 10 KiB (goal 8)" \
    "$(ok "$(get density_kib_per_client)" 10 '<=')"
  row "1 handshakes per second" "$(get density_handshakes_per_s)/s" ">= 5000/s" \
    "$(ok "$(get density_handshakes_per_s)" 5000 '>=')"
  row "1 disconnect peak / hold RSS" "$(get density_disconnect_peak_ratio)x ($(get density_rss_peak_kib)/$(get density_rss_hold_kib) KiB)" \
    "<= 1.25x" "$(ok "$(get density_disconnect_peak_ratio)" 1.25 '<=')"
fi
if want multi; then
  for n in $mp_sizes; do
    row "1 multi-process $n ($(get "multi${n}_shards") shards)" "$(get "multi${n}_connected") connected" "$n" \
      "$(ok "$(get "multi${n}_connected")" "$n" '>=')"
    row "  summed RSS per client" "$(get "multi${n}_kib_per_client") KiB" "<= 10 KiB" \
      "$(ok "$(get "multi${n}_kib_per_client")" 10 '<=')"
    row "  handshakes per second" "$(get "multi${n}_handshakes_per_s")/s" ">= 5000/s" \
      "$(ok "$(get "multi${n}_handshakes_per_s")" 5000 '>=')"
  done
fi
if want coord; then
  row "1 coordinator CPU per trigger" "$(get coord_cpu_us_per_trigger) us (3 shards)" "" \
    "$(get coord_publishes)/5000 publishes, exit $(get coord_exit)"
  row "  sent after intended p50/p99" "$(get coord_late_p50_us) / $(get coord_late_p99_us) us" "" ""
fi
if want mpi; then
  row "1 clients held, 3 MPI ranks" "$(get mpi_mpi_connected) connected" \
    "$(get mpi_processes_connected) (--processes 3)" \
    "$(ok "$(get mpi_mpi_connected)" "$(get mpi_processes_connected)" '>=')"
  row "1 coordinator CPU per trigger, MPI" "$(get mpi_coord_cpu_us_per_trigger) us (3 ranks)" "" \
    "$(get mpi_coord_publishes)/5000 publishes, exit $(get mpi_coord_exit), clock +/- $(get mpi_clock_uncertainty_us) us"
fi
if want intake; then
  row "2 Updates per worker-thread CPU s" "$(get intake_updates_per_worker_cpu_s)" ">= 500000" \
    "$(ok "$(get intake_updates_per_worker_cpu_s)" 500000 '>=')"
  row "2 Updates per second (wall)" "$(get intake_updates_per_s_wall)" ">= 500000" \
    "$(ok "$(get intake_updates_per_s_wall)" 500000 '>=')"
  row "2 CPU s per million Updates" "$(get intake_cpu_s_per_million)" "<= 2" "$(ok "$(get intake_cpu_s_per_million)" 2 '<=')"
  row "  worker / server core use" "$(get intake_worker_core_pct)% / $(get intake_server_core_pct)%" "" ""
  row "2 single stream: CPU s per million" "$(get intake1_cpu_s_per_million)" "" \
    "$(get intake1_updates)/1200000 Updates, $(get intake1_updates_per_frame) per frame"
  row "  per million frames" "$(get intake1_cpu_s_per_million_frames)" "" ""
fi
if want peers; then
  row "5 raw reader CPU s per million" "$(get raw_cpu_s_per_million)" "ours: $(get intake_cpu_s_per_million)" \
    "ratio $(awk -v a="$(get intake_cpu_s_per_million)" -v b="$(get raw_cpu_s_per_million)" \
      'BEGIN{ if (a ~ /^[0-9.]+$/ && b+0 > 0) printf "%.2fx", a/b; else print "-" }')"
  row "5 raw reader KiB per connection" "$(get raw_kib_per_conn)" "ours: $(get density_kib_per_client)" ""
  # the single stream (one Update per frame): ours within 2x of the raw reader
  r1=$(awk -v a="$(get intake1_cpu_s_per_million)" -v b="$(get raw1_cpu_s_per_million)" \
    'BEGIN{ if (a ~ /^[0-9.]+$/ && b+0 > 0) printf "%.2f", a/b; else print "-" }')
  row "5 single: raw reader CPU s/million" "$(get raw1_cpu_s_per_million)" "ours: $(get intake1_cpu_s_per_million)" \
    "ratio ${r1}x (goal <= 2x: $(ok "$r1" 2 '<='))"
  row "  per million frames" "$(get raw1_cpu_s_per_million_frames)" "ours: $(get intake1_cpu_s_per_million_frames)" \
    "$(get raw1_updates_per_frame) Updates per frame"
  # ratios are theirs / ours: the goal is ours using at least 10x less than each peer
  ge10() { awk -v v="$1" 'BEGIN{ if (v !~ /^[0-9.]+$/) print "n/a"; else if (v+0 >= 10) print "met"; else print "NOT met" }'; }
  for tool in tsung artillery; do
    row "5 $tool connections held" "$(get "peer_${tool}_connections") (max $(get "peer_${tool}_connections_max"))" \
      "2400 (max of ${peer_hold})" ""
    row "5 $tool KiB per connection" "$(get "peer_${tool}_kib_per_conn") ($(get "peer_${tool}_mem_ratio")x ours)" \
      ">= 10x ours" "$(ge10 "$(get "peer_${tool}_mem_ratio")")"
    row "5 $tool CPU s per million" "$(get "peer_${tool}_cpu_s_per_million") ($(get "peer_${tool}_cpu_ratio")x ours)" \
      ">= 10x ours" "$(ge10 "$(get "peer_${tool}_cpu_ratio")")"
    row "5 single: $tool CPU s/million" "$(get "peer_${tool}_cpu1_s_per_million") ($(get "peer_${tool}_cpu1_ratio")x ours)" \
      ">= 10x ours" "$(ge10 "$(get "peer_${tool}_cpu1_ratio")")"
    row "  per million frames" "$(get "peer_${tool}_cpu1_s_per_million_frames")" "" \
      "$(get "peer_${tool}_updates_per_frame1") Updates per frame"
  done
fi
if want fanout; then
  row "3 fan-out, 1-Update publishes at 100/s" "$(get fanout_open1_deliveries_per_s)/s (p99 $(get fanout_open1_p99_ms) ms)" \
    ">= 500000/s" "$(ok "$(get fanout_open1_deliveries_per_s)" 500000 '>=')"
  row "3 fan-out, 1 publish at a time" "$(get fanout_closed1_deliveries_per_s)/s (p99 $(get fanout_closed1_p99_ms) ms)" \
    "(one send/subscriber)" "-"
  row "3 fan-out, publishes of 10" "$(get fanout_closed10_deliveries_per_s)/s" ">= 500000/s" \
    "$(ok "$(get fanout_closed10_deliveries_per_s)" 500000 '>=')"
fi
if want transports; then
  for t in webSockets serverSentEvents longPolling; do
    row "4 $t clients" "$(get "tr_${t}_connected") conn" "10000" "$(ok "$(get "tr_${t}_connected")" 10000 '>=')"
    row "  $t Updates/s, received" "$(get "tr_${t}_updates_per_s")/s" "$(get "tr_${t}_received")/$(get "tr_${t}_expected")" \
      "p99 $(get "tr_${t}_p99_ms") ms"
    row "  $t CPU s per million" "$(get "tr_${t}_cpu_s_per_million")" "" \
      "cores: harness $(get "tr_${t}_harness_core_pct")%, server $(get "tr_${t}_server_core_pct")%"
  done
fi
if want fallback; then
  for t in sse lp; do
    row "4 engine $t clients (bench_fallback)" "$(get "fb_${t}_connected") conn" "10000" \
      "$(ok "$(get "fb_${t}_connected")" 10000 '>=')"
    row "  engine $t Updates/s" "$(get "fb_${t}_updates_per_s")/s" "$(get "fb_${t}_kib_per_client") KiB/client" \
      "$(get "fb_${t}_conn_per_s") conn/s"
  done
fi
if want live; then
  row "6 CPU/Update watched vs not" "$(get live_watched_cpu_s_per_million) vs $(get live_plain_cpu_s_per_million) s/M" \
    "<= +5%" "$(get live_overhead_pct)% ($(awk -v v="$(get live_overhead_pct)" \
    'BEGIN{ if (v !~ /^-?[0-9.]+$/) print "n/a"; else if (v+0 <= 5) print "met"; else print "NOT met" }'))"
fi
if want wss; then
  row "7 ws vs wss: CPU per Update" "$(get wss_upd_ws_ns) / $(get wss_upd_wss_ns) ns" \
    "wss <= 1.5x ws" "$(get wss_cpu_ratio)x: $(ok "$(get wss_cpu_ratio)" 1.5 '<=')"
  row "7 RSS per idle client, ws / wss" "$(get wss_ws_kib_per_client) / $(get wss_wss_kib_per_client) KiB" \
    "wss <= 12 KiB" "$(ok "$(get wss_wss_kib_per_client)" 12 '<=')"
  row "7 TLS handshakes/s, resumed" "$(get wss_wss_tls_per_s)/s" ">= 4000/s" "$(ok "$(get wss_wss_tls_per_s)" 4000 '>=')"
  row "7 TLS hs per harness core-s, resumed" "$(get wss_hs1_client_hs_per_core_s)/s" ">= 4000/s" \
    "$(ok "$(get wss_hs1_client_hs_per_core_s)" 4000 '>='): $(get wss_hs1_client_us_per_hs) us client, $(get wss_hs1_server_us_per_hs) us server"
  row "7 TLS hs per harness core-s, full" "$(get wss_hs0_client_hs_per_core_s)/s" ">= 2000/s" \
    "$(ok "$(get wss_hs0_client_hs_per_core_s)" 2000 '>='): $(get wss_hs0_client_us_per_hs) us client, $(get wss_hs0_server_us_per_hs) us server"
  row "  full+resumed / full" "$(get wss_wss_tls_full)+$(get wss_wss_tls_resumed) / $(get wss_wss_full_tls_full)" "" \
    "$(get wss_wss_connect_per_s) / $(get wss_wss_full_connect_per_s) clients/s"
  row "7 TLS handshakes/s, full" "$(get wss_wss_full_tls_per_s)/s" ">= 2000/s" \
    "$(ok "$(get wss_wss_full_tls_per_s)" 2000 '>=')"
  row "  CPU per connect ws / wss / full" \
    "$(get wss_ws_cpu_us_per_connect) / $(get wss_wss_cpu_us_per_connect) / $(get wss_wss_full_cpu_us_per_connect) us" "" ""
fi
if want wss_serve; then
  row "7 wss clients, one process (serve)" "$(get wssd_clients) conn" ">= 19000" \
    "$(ok "$(get wssd_clients)" 19000 '>='), $(get wssd_connect_errors) errors"
  row "7 RSS per idle wss client (run)" "$(get wssd_kib_per_client) KiB" "<= 12 KiB" \
    "$(ok "$(get wssd_kib_per_client)" 12 '<=')"
  row "7 TLS ramp vs serve -p 2, full" "$(get wssd_tls_full_per_s)/s" ">= 2000/s" \
    "$(get wssd_tls_full) full, $(get wssd_clients_per_s) clients/s"
  row "7 TLS ramp vs serve -p 2, resumed" "$(get wssd_tls_resumed_per_s)/s" ">= 4000/s" \
    "$(get wssd_tls_resumed) resumed, $(get wssd_cpu_us_per_client) us CPU/client"
  row "7 wss storm: all back (POST /drop)" "$(get wss_storm_back_s) s" "$(get wss_storm_clients) clients" \
    "$(get wss_storm_reconnects) back, p99 $(get wss_storm_p99_s) s, delivery $(get wss_storm_delivery_ratio)"
fi
if want storm; then
  row "8 storm: $(get storm_clients) clients back" "p50 $(get storm_back_p50) p99 $(get storm_back_p99)" \
    "100% $(get storm_back_p100)" "exit $(get storm_exit)"
  row "  receiving again" "p50 $(get storm_receiving_p50) p99 $(get storm_receiving_p99)" \
    "100% $(get storm_receiving_p100)" "lost $(get storm_lost)"
fi
if want micro; then
  row "micro: WS frame decode" "$(get proto_ws_ns_per_msg) ns/msg" "validating: $(get proto_ws_validating_ns_per_msg)" ""
  row "micro: batched frame, per Update" "$(get proto_batch_ns_per_update) ns" "" ""
  row "micro: latency record" "$(get metrics_record_ns) ns" "" ""
fi
if want peers_wss; then
  # ws and wss side by side on the peers' workload (2,400 subscribers on K0/K1, `serve` and `serve --tls-cert`);
  # "-" where that run was not part of this one (BENCH_ONLY="intake peers peers_wss" makes all six columns).
  side() { printf '%-38s %-9s %-9s %-9s %-10s %-12s %s\n' "$@"; }
  sides() { # LABEL OURS_WS OURS_WSS PEER_SUFFIX: ours' keys, then peer_<tool>[_wss]_<suffix>
    side "$1" "$(get "$2")" "$(get "$3")" "$(get "peer_tsung_$4")" "$(get "peer_tsung_wss_$4")" \
      "$(get "peer_artillery_$4")" "$(get "peer_artillery_wss_$4")"
  }
  echo
  side "5 peers' workload over ws and wss" ours-ws ours-wss tsung-ws tsung-wss artillery-ws artillery-wss
  sides "  CPU s per million Updates, batched" intake_cpu_s_per_million intake_wss_cpu_s_per_million cpu_s_per_million
  sides "  CPU s per million Updates, single" intake1_cpu_s_per_million intake1_wss_cpu_s_per_million \
    cpu1_s_per_million
  sides "    per million frames" intake1_cpu_s_per_million_frames intake1_wss_cpu_s_per_million_frames \
    cpu1_s_per_million_frames
  sides "    Updates per frame" intake1_updates_per_frame intake1_wss_updates_per_frame updates_per_frame1
  sides "  RSS KiB per connection" intake_kib_per_client intake_wss_kib_per_client kib_per_conn
  sides "  connections per second (ramp)" intake_connect_per_s intake_wss_connect_per_s connect_per_s
  sides "  connect ms (p50; Tsung: mean)" intake_connect_ms intake_wss_connect_ms connect_ms
  side "  Update latency p99 ms" "$(get intake_latency_p99_ms)" "$(get intake_wss_latency_p99_ms)" "-" "-" "-" "-"
  side "  server certificate verified" "" "yes" "" "NO" "" "yes"
fi
{
  echo "{"
  echo "  \"format\": \"centro-harness-bench\", \"version\": 1, \"time\": \"$stamp\","
  echo "  \"machine\": {\"nproc\": $(nproc), \"mem_gib\": $(free -g | awk '/^Mem:/{print $2}'), \"kernel\": \"$(uname -r)\"},"
  echo "  \"details\": \"reports/bench-$stamp/\","
  echo "  \"results\": {"
  awk '{ v=$2; if (v !~ /^-?[0-9]+(\.[0-9]+)?$/) v="\"" v "\""; printf "%s    \"%s\": %s", (NR>1?",\n":""), $1, v } END{print ""}' "$res"
  echo "  }"
  echo "}"
} >"$out_json"
echo "written: reports/bench-$stamp.json (logs, reports and samples in reports/bench-$stamp/)"
