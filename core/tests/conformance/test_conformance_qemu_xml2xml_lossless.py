"""qemu-xml2xml/lossless: every input libvirt accepts survives parse_domain + to_xml, and the
output validates against domain.rng exactly when the input does."""

from __future__ import annotations

import pytest
from virtkit.errors import XMLError
from virtkit.testing.conformance import Case, assert_target, cases, run_corpus, same_tree
from virtkit.xml import parse_domain, validate

pytestmark = pytest.mark.conformance

CORPUS = "qemu-xml2xml"
NAME = f"{CORPUS}/lossless"


def _inputs() -> list[Case]:
    """One case per input file (the active and inactive modes share their input)."""
    seen: dict[str, Case] = {}
    for case in cases(CORPUS):
        if not case.expect_failure and case.input is not None:
            seen.setdefault(str(case.input), case)
    return list(seen.values())


def _input_valid(case: Case) -> bool:
    schema = case.schema or {}
    return bool((schema.get("input") or {}).get("valid", True))


def check_case(case: Case) -> None:
    assert case.input is not None
    source = case.input.read_bytes()
    output = parse_domain(source).to_xml()
    difference = same_tree(source, output)
    if difference:
        raise AssertionError(f"not faithful: {difference}")
    try:
        validate(output)
        valid = True
    except XMLError as exc:
        valid, reason = False, str(exc)
    if valid != _input_valid(case):
        expected = "does" if _input_valid(case) else "does not"
        raise AssertionError(
            f"output {'validates' if valid else 'does not validate: ' + reason} "
            f"but libvirt's schema test says the input {expected}"
        )


def test_qemu_xml2xml_lossless() -> None:
    failures = run_corpus(NAME, _inputs(), check_case, target=1.0)
    assert_target(NAME, failures)
