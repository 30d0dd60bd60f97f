# Builds the Containerfile's image and runs it, when a container engine works on this machine (podman or docker
# answering `info`); otherwise "skipped: no container engine" (exit 77). test_containerfile.sh always checks the
# file itself.
# The image is built from the .deb of this build folder (cpack, as test_deb.sh): --build-context package=DIR
# replaces the Containerfile's "package" stage, so its build stage (a full compile, 20+ minutes on 2 busy cores) is
# skipped. CH_CONTAINER_FULL=1 builds it from source instead, as `podman build .` does.
# Base images: CH_CONTAINER_RUNTIME_IMAGE (and CH_CONTAINER_BUILD_IMAGE with CH_CONTAINER_FULL=1), else
# docker.io/library/debian:12-slim (debian:12) when the engine has it or pulls it within 2 minutes, else the local
# localhost/debian:12-slim (localhost/debian:12) that .ci/container-base-image.sh makes from the Debian mirror; with
# none of them: "skipped: no base image".
. "$(dirname "$0")/common.sh"
engine=""
for e in podman docker; do
  command -v "$e" >/dev/null 2>&1 && timeout 60 "$e" info >/dev/null 2>&1 && { engine=$e; break; }
done
[ -n "$engine" ] || { echo "skipped: no container engine (podman or docker that answers '<engine> info')"; exit 77; }

# base_image VALUE DEFAULT LOCAL: the image to build on (image), or skip
base_image() {
  image=$1
  if [ -n "$image" ]; then
    timeout 30 "$engine" image inspect "$image" >/dev/null 2>&1 || timeout 120 "$engine" pull -q "$image" >/dev/null \
      || { echo "FAIL: $engine has no $image and cannot pull it" >&2; exit 1; }
    return
  fi
  for image in "$2" "$3"; do
    timeout 30 "$engine" image inspect "$image" >/dev/null 2>&1 && return
  done
  image=$2
  timeout 120 "$engine" pull -q "$image" >"$WORK/pull.log" 2>&1 && return
  echo "skipped: no base image: $engine has neither $2 nor $3 and cannot pull $2 ($(tail -1 "$WORK/pull.log"));"
  echo "  .ci/container-base-image.sh makes $3 from the Debian mirror"
  exit 77
}
base_image "${CH_CONTAINER_RUNTIME_IMAGE:-}" docker.io/library/debian:12-slim localhost/debian:12-slim
build_args=(--build-arg "RUNTIME_IMAGE=$image")
what="on $image"
# build limits: 10 times the measured 25-30 s from the .deb, 3 times the 8m42s from source (tests/CMakeLists.txt)
if [ "${CH_CONTAINER_FULL:-}" = 1 ]; then
  base_image "${CH_CONTAINER_BUILD_IMAGE:-}" docker.io/library/debian:12 localhost/debian:12
  build_args+=(--build-arg "BUILD_IMAGE=$image")
  limit=1560 what="from source on $image, $what"
else
  build_deb "$WORK/pkg"
  build_args+=(--build-context "package=$WORK/pkg")
  limit=300 what="from ${deb##*/} $what"
fi

tag=localhost/centro-harness-test:$$
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  timeout 60 "$engine" rmi -f "$tag" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
echo "building with $engine $what"
start=$(date +%s)
if timeout "$limit" "$engine" build "${build_args[@]}" -f "$CH_SOURCE_DIR/Containerfile" -t "$tag" "$CH_SOURCE_DIR" \
     >"$WORK/build.log" 2>&1; then
  pass "$engine build -f Containerfile $what ($(($(date +%s) - start)) s)"
else
  rc=$?; tail -40 "$WORK/build.log" >&2; echo "FAIL: $engine build $what (exit $rc, limit $limit s)" >&2; exit 1
fi
run() { timeout 120 "$engine" run --rm "$@"; }
out=$(run "$tag" --version 2>&1)
case $out in "centro-harness $CH_VERSION"*libcurl*) pass "run --version: $(echo "$out" | head -1)" ;; *) fail "run --version: $out" ;; esac
uid=$(run --entrypoint id "$tag" -u 2>&1)
case $uid in ''|0|*[!0-9]*) fail "the image runs as uid '$uid'" ;; *) pass "runs as uid $uid" ;; esac
run --entrypoint test "$tag" -s /etc/ssl/certs/ca-certificates.crt && pass "CA certificates for https/wss targets" \
  || fail "no /etc/ssl/certs/ca-certificates.crt in the image: https and wss targets cannot be verified"
# a check against the embedded endpoint, its report under the working directory /, so on the /reports volume
out=$(run "$tag" check --only NEG-001 2>&1)
rc=$?
case $out in *"report: reports/"*) ;; *) fail "check did not write its report under /reports: $out" ;; esac
[ $rc -eq 0 ] && pass "run check --only NEG-001 (exit 0)" || fail "run check exit $rc: $out"
run "$tag" run smoke --quiet >"$WORK/run.out" 2>&1 && pass "run smoke (shipped scenario)" \
  || fail "run smoke: $(tail -5 "$WORK/run.out")"

# README's example: the report folder mounted from the host, written as the caller's user; `check` against a
# serve of this build on the host's loopback (--network host)
start_serve "$CH_BUILD_DIR/centro-harness" --token ctest:alice --keepalive 1 --quiet
if [ -z "$url" ]; then
  fail "serve did not start: $(cat "$WORK/serve.out")"
else
  mkdir "$WORK/reports"
  userns=()
  [ "$engine" = podman ] && [ "$(podman info --format '{{.Host.Security.Rootless}}')" = true ] && userns=(--userns=keep-id)
  run --network host "${userns[@]}" --user "$(id -u):$(id -g)" -v "$WORK/reports:/reports" "$tag" \
    check --target "$url" --token ctest --transport webSockets >"$WORK/check.out" 2>&1
  rc=$?
  set -- "$WORK"/reports/*/report.json
  [ $rc -eq 0 ] && [ -f "$1" ] && pass "check --network host against the host's serve, report on the volume: ${1#"$WORK"/}" \
    || fail "check against the host's serve exit $rc, reports: $(ls -R "$WORK/reports"): $(tail -5 "$WORK/check.out")"
  [ -f "$1" ] && [ "$(stat -c %u "$1")" = "$(id -u)" ] && pass "the report belongs to uid $(id -u)" \
    || fail "the report on the volume is not uid $(id -u)'s"
fi
finish
