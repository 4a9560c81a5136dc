"""What the benchmarks share: the reference libvirt, timing, medians and the result table.

Benchmarks are scripts, not tests: ``.venv/bin/python bench/<name>.py``. Each measures the same
work through real libvirt 9.0 (set up by ``scripts/setup-libvirt.sh``) and through virtkit, and
prints one table of medians with the target each figure must meet.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import attrs

REPO = Path(__file__).resolve().parent.parent
SETUP_LIBVIRT = REPO / "scripts" / "setup-libvirt.sh"
T = TypeVar("T")


class BenchError(RuntimeError):
    """The benchmark cannot run or measured something wrong; the message says what."""


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool) -> Iterator[Path]:
    """A fresh folder for one benchmark run, removed afterwards unless ``keep`` (then named)."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield scratch
    finally:
        if keep:
            print(f"scratch directory kept: {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def require_libvirt(*, start_daemon: bool = False) -> ModuleType:
    """Import libvirt-python, first running ``scripts/setup-libvirt.sh`` when it or ``virsh``
    is missing (or when ``start_daemon`` asks for the system libvirtd)."""
    try:
        module = importlib.import_module("libvirt")
        ready = shutil.which("virsh") is not None and not start_daemon
    except ImportError:
        module, ready = None, False
    if not ready:
        args = [str(SETUP_LIBVIRT), *(["--start"] if start_daemon else [])]
        print(f"setting up the reference libvirt: {' '.join(args)}", file=sys.stderr)
        if subprocess.run(args).returncode != 0:
            raise BenchError(f"{SETUP_LIBVIRT.name} failed: libvirt 9.0 is needed as the reference")
        importlib.invalidate_caches()
        module = importlib.import_module("libvirt")
    assert module is not None
    module.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions
    return module


def timed(work: Callable[[], T]) -> tuple[float, T]:
    """``work()``'s result and the seconds it took on the wall clock."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def interpreter() -> str:
    """The Python running virtkit's side, for the table's heading: its speed is part of every
    figure (a distribution's build optimised with profiles runs define ~9% faster here than a
    plain source build)."""
    return f"Python {platform.python_version()} ({os.path.realpath(sys.executable)})"


def median_ms(samples: Sequence[float]) -> float:
    """The median of samples in seconds, in milliseconds."""
    return statistics.median(samples) * 1000.0


@attrs.frozen(kw_only=True)
class Row:
    """One line of a result table.

    ``reference`` and ``candidate`` are median milliseconds (``None``: not measured). With
    ``higher_is_better`` the figure is the candidate's throughput relative to the reference's
    (reference time / candidate time) and must be at least ``target``; otherwise it is the
    candidate's time relative to the reference's and must be at most ``target``.
    """

    operation: str
    reference: float | None
    candidate: float | None
    target: float | None
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.reference is None or self.candidate is None or not self.candidate:
            return None
        if self.higher_is_better:
            return self.reference / self.candidate
        return self.candidate / self.reference

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        if self.ratio is None:
            return "MISSING"
        ok = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "pass" if ok else "FAIL"


def format_table(rows: Sequence[Row], reference: str, candidate: str, ratio_label: str) -> str:
    """The rows as an aligned text table."""

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    header = ("operation", f"{reference} ms", f"{candidate} ms", ratio_label, "target", "result")
    lines = [header]
    for row in rows:
        target = (
            ""
            if row.target is None
            else (f"{'>=' if row.higher_is_better else '<='} {row.target:g}")
        )
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            (row.operation, ms(row.reference), ms(row.candidate), ratio, target, row.verdict)
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
