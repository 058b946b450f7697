#!/usr/bin/env bash
# Set up what the tests need, then run the whole suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
# Debian's Chromium for the dashboard's browser tests (Playwright drives it; its own
# browser download is not used).
apt_install chromium
# kubectl renders the Kubernetes overlays (kubectl kustomize) for tests/deploy/test_deploy.py;
# Debian's kubernetes-client where the machine has no kubectl of its own.
command -v kubectl >/dev/null || apt_install kubernetes-client
cd "$ROOT"
ruff check cataract_contract savedmodel_runner train_jax serving client doors dashboards benchmarks cataract_cli tests model_repository scripts
lint-imports  # the import layers of pyproject.toml's [tool.importlinter]
# Two processes, each taking whole files (module fixtures such as a started server stay in
# one process): much of the suite waits on tritonserver, Chromium and training subprocesses,
# so on a 2-core machine two at once cut its time by a quarter. `-n 0` runs it in one.
exec python -m pytest -n 2 --dist loadfile --durations=25 "$@"  # the slowest tests, for whoever trims the suite
