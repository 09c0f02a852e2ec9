#!/bin/bash
# Quick start, command 2: the whole test suite (unit and functional, against
# a real libvirtd, a real placement server and nova's functional harness).
# Its last line is "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-host.sh
exec tox -q -e py3 -- "$@"
