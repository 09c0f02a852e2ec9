#!/bin/bash
# Quick start, command 2: the whole test suite (unit and functional, against
# a real libvirtd, a real placement server and nova's functional harness).
# Its last line is "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-host.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
[ -d .tox/py3 ] || echo "run-tests: building the tox environment .tox/py3" \
    "(nova, placement; about 2 minutes, once)..." >&2
set +e
tox -q -e py3 -- "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# tox prints its own verdict after the runner's count; end with the count.
grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 \
    || echo "0 passed, 1 failed: the test run printed no count"
exit "$status"
