#!/usr/bin/env bash
# The CI examples (examples/ci/): valid YAML whose centro-harness command lines are the ones this test runs
# (check_examples.py). Needs python3 with PyYAML (Debian python3-yaml, in .ci/install-deps.sh test): without it the
# test fails, or is skipped (77) when CH_ALLOW_SKIP=1.
set -u
if ! python3 -c 'import yaml' 2>/dev/null; then
  if [ "${CH_ALLOW_SKIP:-}" = 1 ]; then
    echo "SKIPPED: python3 with PyYAML not found (CH_ALLOW_SKIP=1)"
    exit 77
  fi
  echo "FAILED: python3 with PyYAML not found (apt-get install -y python3-yaml; CH_ALLOW_SKIP=1 skips this test)" >&2
  exit 1
fi
exec python3 "$(dirname "$0")/check_examples.py"
