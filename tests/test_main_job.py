"""The README's main job (``scripts/demo.py``) runs a real VM to the end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


def test_main_job_runs_a_real_vm_through_every_step() -> None:
    assert shutil.which("qemu-system-x86_64") and shutil.which("qemu-img"), (
        "QEMU is not installed: run scripts/setup.sh (the main job needs a real VM here)"
    )
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=600, check=False
    )
    out = done.stdout
    assert done.returncode == 0, f"{out[-2000:]}\n{done.stderr[-2000:]}"
    for step in (
        "Domain 'demo' started",
        "console: counter",
        "guest memory is the snapshot's",
        "restored: the counter goes on",
        "shut off (shutdown)",
        "Domain 'demo' has been undefined",
    ):
        assert step in out, f"the main job's output lacks {step!r}:\n{out[-2000:]}"
