#!/usr/bin/env bash
# Sets up everything the tests need (scripts/setup.sh) and runs the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
