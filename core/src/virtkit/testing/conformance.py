"""Conformance against libvirt's own test data (``../shared/conformance`` by default).

Each corpus criterion is one test that runs every case, reports ``passed/total`` through
:func:`report`, and fails when the figure drops below its target. The figures are printed at the
end of the run as ``conformance <name>: <passed>/<total> passed``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import attrs

ENV_VAR = "VIRTKIT_CONFORMANCE"


def corpus_root() -> Path:
    """The corpus folder: ``$VIRTKIT_CONFORMANCE``, else ``../shared/conformance`` from the
    repository root. Raises with a clear message when it is missing."""
    value = os.environ.get(ENV_VAR)
    root = (
        Path(value)
        if value
        else Path(__file__).resolve().parents[4] / ".." / "shared" / "conformance"
    )
    root = root.resolve()
    if not (root / "manifest.json").is_file():
        raise FileNotFoundError(
            f"conformance corpus not found at {root} (no manifest.json): set {ENV_VAR} to the "
            "folder holding libvirt's test data"
        )
    return root


@attrs.frozen(kw_only=True)
class Case:
    """One manifest case; paths are absolute."""

    corpus: str
    name: str
    test: str
    direction: str
    input: Path | None
    expected: Path | None
    expect_failure: bool
    flags: dict[str, Any] = attrs.field(hash=False)
    aux: Any = attrs.field(hash=False)
    schema: Any = attrs.field(hash=False)
    raw: dict[str, Any] = attrs.field(hash=False, repr=False)


@cache
def _manifest() -> dict[str, Any]:
    with open(corpus_root() / "manifest.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _case_dicts(corpus: str) -> list[dict[str, Any]]:
    corpora = _manifest()["corpora"]
    if corpus not in corpora:
        raise KeyError(f"no corpus {corpus!r} in {corpus_root() / 'manifest.json'}")
    return list(corpora[corpus]["cases"])


def cases(corpus: str) -> list[Case]:
    """Every case of ``corpus`` in manifest order."""
    root = corpus_root()

    def path(value: str | None) -> Path | None:
        return root / value if value else None

    return [
        Case(
            corpus=corpus,
            name=c["name"],
            test=c.get("test", c["name"]),
            direction=c.get("direction", ""),
            input=path(c.get("input")),
            expected=path(c.get("expected")),
            expect_failure=bool(c.get("expect_failure")),
            flags=c.get("flags") or {},
            aux=c.get("aux"),
            schema=c.get("schema"),
            raw=c,
        )
        for c in _case_dicts(corpus)
    ]


@attrs.frozen
class Figure:
    name: str
    passed: int
    total: int
    target: float


_FIGURES: list[Figure] = []


def report(name: str, passed: int, total: int, target: float) -> None:
    """Record one figure for the end-of-run summary."""
    _FIGURES[:] = [f for f in _FIGURES if f.name != name]
    _FIGURES.append(Figure(name, passed, total, target))


def figures() -> list[Figure]:
    return list(_FIGURES)


def run_corpus(
    name: str,
    items: Iterable[Case],
    check: Callable[[Case], None],
    target: float,
) -> list[str]:
    """Run ``check`` (which raises on mismatch) on each case, report the figure, and return
    the failures as ``"<case>: <reason>"`` lines. The caller asserts on the figure."""
    failures = []
    total = 0
    for case in items:
        total += 1
        try:
            check(case)
        except Exception as exc:  # a mismatch or a crash both count as a failed case
            first = str(exc).strip().splitlines()
            failures.append(f"{case.name}: {type(exc).__name__}: {first[0] if first else ''}")
    report(name, total - len(failures), total, target)
    return failures


def assert_target(name: str, failures: list[str]) -> None:
    """Fail when the reported figure of ``name`` is below its target; list the failing cases."""
    figure = next(f for f in _FIGURES if f.name == name)
    ratio = figure.passed / figure.total if figure.total else 0.0
    if ratio < figure.target:
        shown = "\n  ".join(failures[:40])
        raise AssertionError(
            f"conformance {name}: {figure.passed}/{figure.total} passed "
            f"({ratio:.1%}) is below the target {figure.target:.0%}; failing cases:\n  {shown}"
        )


def expected_text(case: Case) -> str:
    """The output ``case`` expects: its expected file, or its input when that is its own
    expectation."""
    path = case.expected or case.input
    if path is None:
        raise ValueError(f"{case.name}: neither expected nor input file")
    return path.read_text(encoding="utf-8")


def same_tree(left: str | bytes, right: str | bytes) -> str | None:
    """None when both documents hold the same elements, attributes, text and order
    (whitespace-only text and comments ignored); else the first difference, as a path."""
    from lxml import etree

    from virtkit.xml.parser import PARSER

    def load(doc: str | bytes) -> etree._Element:
        return etree.fromstring(doc.encode() if isinstance(doc, str) else doc, PARSER)

    def walk(a: etree._Element, b: etree._Element) -> str | None:
        path = a.getroottree().getpath(a)
        if a.tag != b.tag:
            return f"{path}: <{a.tag}> became <{b.tag}>"
        if dict(a.attrib) != dict(b.attrib):
            return f"{path}: attributes {dict(a.attrib)} became {dict(b.attrib)}"
        if (a.text or "").strip() != (b.text or "").strip() or (
            (a.text or "").strip() and a.text != b.text
        ):
            return f"{path}: text {a.text!r} became {b.text!r}"
        kids_a = [c for c in a if isinstance(c.tag, str)]
        kids_b = [c for c in b if isinstance(c.tag, str)]
        if len(kids_a) != len(kids_b):
            return f"{path}: {len(kids_a)} children became {len(kids_b)}"
        for x, y in zip(kids_a, kids_b, strict=True):
            found = walk(x, y)
            if found:
                return found
        return None

    return walk(load(left), load(right))


def iter_summary() -> Iterator[str]:
    for f in _FIGURES:
        yield f"conformance {f.name}: {f.passed}/{f.total} passed"
