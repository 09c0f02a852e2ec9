#!/bin/bash
# Quick start, command 1: the main job on an embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-host.sh
# The first run builds .tox/demo (nova, placement: about two minutes) and
# prints nothing meanwhile: say so.
[ -d .tox/demo ] || echo "demo: building the tox environment .tox/demo" \
    "(nova, placement; about 2 minutes, once)..." >&2
exec tox -q -e demo -- "$@"
