"""Which steps of a canonical pipeline have anything to do: most act on elements that most
domains lack (smartcards, NUMA cells, ``<cputune>``, ...), and calling them only to find that
out costs more than the steps that do change a small domain.

- A step marked :func:`acts_on` changes nothing in a tree without an element of one of the
  given tags, so :func:`~virtkit.xml.canonical.canonical` skips it there.
- The tags in the tree are taken once, as the pipeline starts. After a step marked
  :func:`creates`, the tags it may create are added to them; after a step without that mark
  (it may create anything), they are taken again.
- :func:`virtkit.testing.census.wrong_marks` checks both marks on real definitions (the
  tests run it on libvirt's test data).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeVar

from lxml import etree

S = TypeVar("S", bound=Callable[..., None])

_ACTS_ON: dict[Callable[..., None], frozenset[str]] = {}
_CREATES: dict[Callable[..., None], frozenset[str]] = {}

#: a step, the tags it acts on (``None``: it always runs), the tags of the elements it creates
#: (``None``: any)
PlannedStep = tuple[Callable[..., None], frozenset[str] | None, frozenset[str] | None]


def acts_on(*tags: str) -> Callable[[S], S]:
    """Mark a step that changes nothing unless the tree holds an element named one of
    ``tags`` (anywhere)."""

    def mark(step: S) -> S:
        _ACTS_ON[step] = frozenset(tags)
        return step

    return mark


def creates(*tags: str) -> Callable[[S], S]:
    """Mark a step that may create elements named ``tags`` (and no other new tag: an element
    copied from the tree brings only tags the tree has)."""

    def mark(step: S) -> S:
        _CREATES[step] = frozenset(tags)
        return step

    return mark


def step_acts_on(step: Callable[..., None]) -> frozenset[str] | None:
    """The tags ``step`` acts on, ``None`` when it is not marked (it always runs)."""
    return _ACTS_ON.get(step)


def step_creates(step: Callable[..., None]) -> frozenset[str] | None:
    """The tags of the elements ``step`` may create, ``None`` when it is not marked (any)."""
    return _CREATES.get(step)


def tags_in(root: etree._Element) -> set[str]:
    """The tags of the elements in ``root``'s tree, ``root``'s own included."""
    return {el.tag for el in root.iter(etree.Element)}


@lru_cache(maxsize=16)
def plan(steps: tuple[Callable[..., None], ...]) -> tuple[PlannedStep, ...]:
    """``steps`` with their marks."""
    return tuple((step, step_acts_on(step), step_creates(step)) for step in steps)
