"""vbox-snapshot: libvirt's .vbox load + save round trip (lastStateChange lines dropped)."""

from __future__ import annotations

import re

import pytest
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit_vbox.settings import parse_settings

pytestmark = pytest.mark.conformance

CORPUS = "vbox-snapshot"


def _kept_lines(text: str, pattern: str) -> list[str]:
    drop = re.compile(pattern)
    return [line for line in text.splitlines() if not drop.search(line)]


def check_case(case: Case) -> None:
    assert case.input is not None
    output = parse_settings(case.input.read_bytes()).to_bytes().decode("iso-8859-1")
    pattern = case.flags["ignore_lines_matching"]
    got, want = _kept_lines(output, pattern), _kept_lines(expected_text(case), pattern)
    if got != want:
        first = next(
            (i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b),
            min(len(got), len(want)),
        )
        raise AssertionError(
            f"line {first + 1} differs: {got[first : first + 1]} != {want[first : first + 1]}"
        )


def test_vbox_snapshot() -> None:
    """Every .vbox file saves back as libvirt saves it."""
    failures = run_corpus(CORPUS, cases(CORPUS), check_case, target=1.0)
    assert_target(CORPUS, failures)
