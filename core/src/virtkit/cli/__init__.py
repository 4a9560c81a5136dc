"""``virtkit``: a command-line tool familiar to virsh users, over the public API.

Commands live in :mod:`virtkit.cli.commands` and are imported only when invoked, so that a
plain ``virtkit list`` starts fast.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

GC_THRESHOLD = 100_000
"""New container objects between two collections of the youngest generation (Python's
default is 700)."""


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (the ``virtkit`` console script); exits with the command's status.

    It sets the garbage collector up for a short-lived process. Most of a command's run is
    start-up, which builds some forty thousand long-lived objects (modules, classes) where the
    cyclic collector finds nothing to free, yet it scans them again and again as they grow and
    once more at exit: a sixth of ``virtkit list``'s time. So the collector runs only after
    :data:`GC_THRESHOLD` new objects (never while a command starts, still regularly in a
    long ``event --loop``), and what is left at the end is frozen, which spares the exit scan.
    """
    gc.set_threshold(GC_THRESHOLD)
    from virtkit.cli.app import cli

    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="virtkit")
    finally:
        gc.freeze()
