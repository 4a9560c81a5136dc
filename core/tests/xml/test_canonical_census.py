"""The canonical pipeline skips a step whose elements the tree lacks, and the marks that let it
do so hold on libvirt's own definitions."""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit.errors import XMLError
from virtkit.testing.census import wrong_marks
from virtkit.testing.conformance import cases
from virtkit.xml import GENERIC_STEPS, Context, canonical, parse_domain
from virtkit.xml.canonical import acts_on, creates
from virtkit.xml.canonical.order import first_child

DOMAIN = "<domain type='kvm'><name>c</name><memory>1024</memory><devices>{}</devices></domain>"


def _calls() -> tuple[list[str], list[object]]:
    """A log of the calls of the steps below, and those steps: ``card`` acts on smartcards,
    ``add_marked`` creates one and says so, ``add_unmarked`` creates one without a mark."""
    log: list[str] = []

    @acts_on("smartcard")
    @creates()
    def card(root: etree._Element, ctx: Context) -> None:
        log.append("card")

    @creates("smartcard")
    def add_marked(root: etree._Element, ctx: Context) -> None:
        etree.SubElement(first_child(root, "devices"), "smartcard")  # type: ignore[arg-type]

    def add_unmarked(root: etree._Element, ctx: Context) -> None:
        etree.SubElement(first_child(root, "devices"), "smartcard")  # type: ignore[arg-type]

    return log, [card, add_marked, add_unmarked]


def test_a_step_is_called_only_when_its_elements_are_there() -> None:
    log, (card, _, _) = _calls()
    canonical(parse_domain(DOMAIN.format("")), steps=(card,))  # type: ignore[arg-type]
    assert log == []
    canonical(parse_domain(DOMAIN.format("<smartcard mode='passthrough'/>")), steps=(card,))  # type: ignore[arg-type]
    assert log == ["card"]


@pytest.mark.parametrize("creator", [1, 2], ids=["marked", "unmarked"])
def test_elements_an_earlier_step_created_count(creator: int) -> None:
    """A step that declares what it creates, and one that does not (the tags are taken again
    after it), both make the later step run."""
    log, steps = _calls()
    canonical(parse_domain(DOMAIN.format("")), steps=(steps[creator], steps[0]))  # type: ignore[arg-type]
    assert log == ["card"]


def test_wrong_marks_are_found() -> None:
    @acts_on("smartcard")
    @creates()
    def changes_without_smartcards(root: etree._Element, ctx: Context) -> None:
        root.set("id", "1")

    @creates("uuid")
    def creates_more_than_it_says(root: etree._Element, ctx: Context) -> None:
        etree.SubElement(root, "title")

    root = parse_domain(DOMAIN.format("")).tree()
    found = wrong_marks(root, [changes_without_smartcards, creates_more_than_it_says], Context())
    assert len(found) == 2
    assert "changes_without_smartcards changed a tree without any of ['smartcard']" in found[0]
    assert "creates_more_than_it_says created ['title'] without declaring it" in found[1]


def _definitions(corpus: str) -> list[tuple[str, etree._Element, bool]]:
    """The name, tree and inactive flag of each definition of ``corpus`` libvirt accepts."""
    found = []
    for case in cases(corpus):
        if case.input is None or case.expect_failure:
            continue
        try:
            tree = parse_domain(case.input.read_bytes()).tree()
        except XMLError:
            continue
        inactive = bool(case.flags.get("parse_inactive") or case.flags.get("mode") == "inactive")
        found.append((case.name, tree, inactive))
    return found


@pytest.mark.conformance
def test_generic_marks_hold_on_libvirts_definitions() -> None:
    """Every generic step's marks hold on every definition of generic-xml2xml and
    qemu-xml2xml (over 500)."""
    definitions = _definitions("generic-xml2xml") + _definitions("qemu-xml2xml")
    assert len(definitions) > 500
    wrong: dict[str, list[str]] = {}
    for name, tree, inactive in definitions:
        try:
            found = wrong_marks(tree, GENERIC_STEPS, Context(inactive=inactive))
        except XMLError:
            continue
        if found:
            wrong[name] = found
    assert not wrong, f"{len(wrong)} definitions, the first: {next(iter(wrong.items()))}"
