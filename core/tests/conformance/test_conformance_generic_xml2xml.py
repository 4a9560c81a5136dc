"""generic-xml2xml: libvirt's driver-independent parse + format, byte for byte."""

from __future__ import annotations

import pytest
from virtkit.errors import XMLError
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit.xml import Context, canonical, format_domain, parse_domain, validate

pytestmark = pytest.mark.conformance

CORPUS = "generic-xml2xml"


def _convert(case: Case) -> str:
    assert case.input is not None
    flags = case.flags
    inactive = bool(flags.get("parse_inactive"))
    definition = canonical(
        parse_domain(case.input.read_bytes()), context=Context(inactive=inactive)
    )
    return format_domain(
        definition,
        inactive=bool(flags.get("format_inactive")),
        secure=bool(flags.get("format_secure")),
    )


def check_case(case: Case) -> None:
    if case.expect_failure:
        try:
            _convert(case)
        except XMLError:
            return
        raise AssertionError("accepted a definition libvirt rejects")
    output = _convert(case)
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")
    validate(output)


def test_generic_xml2xml() -> None:
    """At least 90% of the cases behave as in libvirt (output byte for byte, or rejected)."""
    failures = run_corpus(CORPUS, cases(CORPUS), check_case, target=0.9)
    assert_target(CORPUS, failures)


def test_generic_xml2xml_must_fail() -> None:
    """Every definition libvirt rejects is rejected."""
    name = f"{CORPUS}/must-fail"
    failures = run_corpus(name, [c for c in cases(CORPUS) if c.expect_failure], check_case, 1.0)
    assert_target(name, failures)
