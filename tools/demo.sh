#!/bin/bash
# Quick start, command 1: the main job on an embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-host.sh
exec tox -q -e demo -- "$@"
