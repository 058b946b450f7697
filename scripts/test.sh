#!/usr/bin/env bash
# Set up what the tests need, then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# Debian's Chromium for the dashboard's browser tests (Playwright drives it; its own
# browser download is not used).
apt_install chromium
cd "$ROOT"
ruff check train_jax client dashboards tests model_repository
exec python -m pytest "$@"
