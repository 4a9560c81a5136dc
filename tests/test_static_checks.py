"""The code keeps its promises to those who carry it on: the typed API type-checks (mypy
--strict over the core, every plugin and the template, as ``pyproject.toml`` lists them), and
ruff finds nothing to lint or reformat."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON_FOLDERS = ["core", "plugins", "bench", "scripts", "tests"]


@pytest.mark.parametrize(
    "command",
    [
        ["mypy"],
        ["ruff", "check", *PYTHON_FOLDERS],
        ["ruff", "format", "--check", *PYTHON_FOLDERS],
    ],
    ids=["mypy", "ruff-check", "ruff-format"],
)
def test_static_check_passes(command: list[str]) -> None:
    tool = Path(sys.executable).parent / command[0]
    assert tool.exists(), f"{command[0]} is missing: scripts/setup.sh installs it"
    done = subprocess.run(
        [str(tool), *command[1:]], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}"
