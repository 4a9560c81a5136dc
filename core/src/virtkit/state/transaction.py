"""A batch of writes and removes that a :class:`~virtkit.state.StateStore` applies together."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from virtkit.state.journal import commit, is_within

if TYPE_CHECKING:
    from virtkit.state.store import StateStore


class Transaction:
    """Changes recorded here touch nothing until the ``with store.transaction()`` block ends
    without an exception; then all of them are applied, or none (see :mod:`virtkit.state.journal`).

    Reads through the transaction see its own pending changes.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._writes: dict[str, str] = {}
        self._removes: set[str] = set()
        self._trees: list[str] = []

    def read_text(self, relpath: str) -> str | None:
        """The file's text as it will be after the batch; ``None`` when absent."""
        rel = self._store.relative(relpath)
        if rel in self._writes:
            return self._writes[rel]
        if rel in self._removes or self._under_removed_tree(rel):
            return None
        return self._store.read_text(rel)

    def write_text(self, relpath: str, text: str) -> None:
        """Replace (or create) the file with ``text``."""
        rel = self._store.relative(relpath)
        self._removes.discard(rel)
        self._writes[rel] = text

    def remove(self, relpath: str) -> bool:
        """Remove the file; ``True`` if it exists as the batch stands."""
        rel = self._store.relative(relpath)
        existed = self._writes.pop(rel, None) is not None
        if not self._under_removed_tree(rel) and os.path.lexists(self._store.directory / rel):
            existed = existed or rel not in self._removes
            self._removes.add(rel)
        return existed

    def remove_tree(self, relpath: str) -> None:
        """Remove the folder (or file) and everything in it, including writes staged in it."""
        rel = self._store.relative(relpath)
        self._writes = {p: t for p, t in self._writes.items() if not is_within(p, rel)}
        self._removes = {p for p in self._removes if not is_within(p, rel)}
        if not self._under_removed_tree(rel) and os.path.lexists(self._store.directory / rel):
            self._trees = [t for t in self._trees if not is_within(t, rel)] + [rel]

    def _under_removed_tree(self, rel: str) -> bool:
        return any(is_within(rel, tree) for tree in self._trees)

    def _commit(self, sync_folders: bool) -> None:
        if self._writes or self._removes or self._trees:
            commit(
                self._store.directory,
                self._writes,
                self._removes,
                self._trees,
                durable=self._store.durable,
                sync_folders=sync_folders,
            )
