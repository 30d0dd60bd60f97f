# shellcheck shell=bash
# Sourced by shell tests that read YAML: python3 with PyYAML (Debian python3-yaml, in .ci/install-deps.sh test) or
# the test fails, or is skipped (exit 77) when CH_ALLOW_SKIP=1.
if ! python3 -c 'import yaml' 2>/dev/null; then
  if [ "${CH_ALLOW_SKIP:-}" = 1 ]; then
    echo "SKIPPED: python3 with PyYAML not found (CH_ALLOW_SKIP=1)"
    exit 77
  fi
  echo "FAILED: python3 with PyYAML not found (apt-get install -y python3-yaml; CH_ALLOW_SKIP=1 skips this test)" >&2
  exit 1
fi
