#!/usr/bin/env bash
# The CI examples (examples/ci/): valid YAML whose centro-harness command lines are the ones this test runs
# (check_examples.py). Needs python3 with PyYAML (Debian python3-yaml, in .ci/install-deps.sh test): without it the
# test fails, or is skipped (77) when CH_ALLOW_SKIP=1.
set -u
# shellcheck source-path=SCRIPTDIR source=../common/ch_need_pyyaml.sh
. "$(dirname "$0")/../common/ch_need_pyyaml.sh"
exec python3 "$(dirname "$0")/check_examples.py"
