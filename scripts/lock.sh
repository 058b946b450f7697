#!/usr/bin/env bash
# Write requirements.lock: every package the project and its test tools install, at one
# exact version each. scripts/setup.sh installs through it, so a fresh clone gets the
# versions the suite last passed with (and the images pin), not whatever a registry
# released since. Run it when pyproject.toml's dependencies change, or to move to newer
# releases on purpose; then run the suite and commit the lock with what it changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
# The newest releases pyproject.toml's ranges allow: no lock is read here.
"$scratch/venv/bin/python" -m pip install --quiet "$ROOT[dev]"
{
    echo "# Written by scripts/lock.sh on $(date -u +%Y-%m-%d) (CPython $("$scratch/venv/bin/python" -c 'import platform; print(platform.python_version())'), $(uname -m)): do not edit by hand."
    echo "# pip constraints (-c): exact versions; a local build tag such as +cpu is dropped, so any build of a version matches."
    "$scratch/venv/bin/python" -m pip freeze --exclude cataract-screening | sed -E 's/\+[A-Za-z0-9.]+$//' | sort -f
} > "$ROOT/requirements.lock"
echo "lock: $(grep -vc '^#' "$ROOT/requirements.lock") packages in $ROOT/requirements.lock"
