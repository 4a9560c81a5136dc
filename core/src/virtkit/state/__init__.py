"""State on disk for the drivers that persist: per-URI folders and an atomic, locked file store.

>>> from virtkit.state import StateStore, state_roots
>>> roots = state_roots(uri, "qemu")                      # doctest: +SKIP
>>> store = StateStore(roots.config_dir)                  # doctest: +SKIP
>>> with store.transaction() as batch:                    # doctest: +SKIP
...     batch.write_text("domains/vm1.xml", xml)
...     batch.write_text("snapshots/vm1/current", "snap1")
"""

from __future__ import annotations

from virtkit.state.roots import StateRoots, state_roots, xdg_folder
from virtkit.state.store import StateStore
from virtkit.state.transaction import Transaction

__all__ = ["StateRoots", "StateStore", "Transaction", "state_roots", "xdg_folder"]
