"""A progress bar for long jobs (save, restore, migrate), drawn on a terminal only."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from virtkit.cli.output import capacity

if TYPE_CHECKING:
    from virtkit.records import Progress, ProgressCallback

BAR_WIDTH = 30


class ProgressBar:
    """Redraws one line, ``Save: [#########.....]  45 %``, each time the job reports; when the
    total is unknown it shows how much is done instead. Safe to call from the job's thread."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self.drawn = False
        self._lock = threading.Lock()

    def update(self, progress: Progress) -> None:
        fraction = progress.fraction
        if fraction is None:
            text = f"{self.label}: {capacity(progress.processed)}"
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            text = f"{self.label}: [{bar}] {int(fraction * 100):3d} %"
        with self._lock:
            self.stream.write(f"\r{text}\x1b[K")
            self.stream.flush()
            self.drawn = True

    def finish(self) -> None:
        with self._lock:
            if self.drawn:
                self.stream.write("\n")
                self.stream.flush()


@contextmanager
def progress_bar(
    label: str, enabled: bool = True, stream: TextIO | None = None
) -> Iterator[ProgressCallback | None]:
    """Yield a progress callback drawing on ``stream`` (stderr), or ``None`` when it is not a
    terminal or ``enabled`` is false; the line is ended when the block exits."""
    out = stream if stream is not None else sys.stderr
    if not enabled or not out.isatty():
        yield None
        return
    bar = ProgressBar(label, out)
    try:
        yield bar.update
    finally:
        bar.finish()
