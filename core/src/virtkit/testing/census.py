"""Check the census marks of canonical steps (:mod:`virtkit.xml.canonical.census`) on real
definitions: a step skipped for want of the elements it acts on must leave the tree as it was,
and a step must create no element of a tag it does not declare."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from virtkit.xml.canonical import Context, Step
from virtkit.xml.canonical.census import step_acts_on, step_creates, tags_in


def wrong_marks(root: etree._Element, steps: Sequence[Step], ctx: Context) -> list[str]:
    """Run every step of ``steps`` on ``root`` (changed in place), none skipped, and say
    where a mark is wrong: a step that changed a tree without the tags it acts on, or created
    an element of an undeclared tag."""
    wrong = []
    for step in steps:
        name = f"{step.__module__}.{step.__name__}"
        before = tags_in(root)
        needs = step_acts_on(step)
        skipped = needs is not None and needs.isdisjoint(before)
        text = etree.tostring(root) if skipped else b""
        step(root, ctx)
        if skipped and etree.tostring(root) != text:
            wrong.append(f"{name} changed a tree without any of {sorted(needs or ())}")
        created = step_creates(step)
        if created is not None and (new := tags_in(root) - before - created):
            wrong.append(f"{name} created {sorted(new)} without declaring it")
    return wrong
