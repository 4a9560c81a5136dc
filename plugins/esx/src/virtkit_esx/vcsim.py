"""Run vcsim, VMware's vSphere simulator, for tests and benchmarks.

The binary is built once by ``../shared/sim/esx/setup-vcsim.sh`` (relative to the repository
root, or ``$VIRTKIT_SHARED``) into ``$VIRTKIT_VCSIM`` or ``~/.cache/virtkit/vcsim``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

READY = re.compile(r"vcsim ready: https://[^@]*@([0-9.]+):(\d+)/sdk")


def shared_dir() -> Path:
    value = os.environ.get("VIRTKIT_SHARED")
    # plugins/esx/src/virtkit_esx/vcsim.py -> repository root is parents[4]
    return Path(value) if value else Path(__file__).resolve().parents[4].parent / "shared"


def vcsim_binary() -> Path:
    """The vcsim binary, built on first use; raises with what is missing."""
    cache = Path(os.environ.get("VIRTKIT_VCSIM") or Path.home() / ".cache" / "virtkit" / "vcsim")
    binary = cache / "vcsim"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    script = shared_dir() / "sim" / "esx" / "setup-vcsim.sh"
    if not script.is_file():
        raise FileNotFoundError(
            f"vcsim is not built at {binary} and its build script {script} is missing: set "
            "VIRTKIT_SHARED to the folder holding sim/esx/setup-vcsim.sh, or VIRTKIT_VCSIM to a "
            "folder holding a vcsim binary"
        )
    done = subprocess.run(
        ["bash", str(script), f"{cache}/"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"building vcsim with {script} failed:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


@attrs.frozen
class Simulator:
    host: str
    port: int
    esx: bool


@contextmanager
def running_vcsim(*, esx: bool) -> Iterator[Simulator]:
    """A vcsim on a free loopback port: a standalone ESX host, or a vCenter (datacenter DC0,
    cluster DC0_C0 with hosts DC0_C0_H0..H2)."""
    args = [str(vcsim_binary()), "-l", "127.0.0.1:0"] + (["-esx"] if esx else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            match = READY.search(line)
            if match:
                break
        else:
            raise RuntimeError(f"vcsim exited with status {proc.wait()} before it was ready")
        yield Simulator(match.group(1), int(match.group(2)), esx)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
