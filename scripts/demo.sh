#!/usr/bin/env bash
# The main job: sets up virtkit (scripts/setup.sh) and runs a real Linux VM through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py
