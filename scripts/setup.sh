#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian/Ubuntu machine, idempotently:
# a virtual environment in .venv with the project and its test tools.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"

# System packages, through apt-get (Debian/Ubuntu): installed only when missing.
apt_install() {
    local missing=() package sudo=""
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "setup: installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
# The embedded Triton's own Python environment is built on the system Python, whose
# libpython the python-backend stub links against.
apt_install python3 python3-venv libpython3-dev procps curl

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
# The install is skipped when neither pyproject.toml nor the lock has changed since the last one.
stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing the project and its dependencies into $VENV (first time: several minutes)"
    # A pinned pip, so that a new pip release cannot change how the lock is resolved.
    "$VENV/bin/python" -m pip install --quiet "pip==26.3"
    # At the lock's versions (scripts/lock.sh writes it): the ones the suite passed with.
    "$VENV/bin/python" -m pip install --quiet -c "$ROOT/requirements.lock" -e "$ROOT[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
# Provision the embedded Triton's runtime now (once per machine) rather than on first serve.
cataract serve --provision-only
