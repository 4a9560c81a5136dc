"""lxc-conf2xml and lxc-xml2xml: libvirt's LXC native-config conversion and LXC driver XML
round trip, byte for byte against libvirt's own test data."""

from __future__ import annotations

import re

import pytest
from virtkit.errors import ConfigUnsupportedError, InvalidArgumentError
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit.xml import format_domain, parse_domain, validate
from virtkit_lxc.canonical import lxc_canonical
from virtkit_lxc.native import config_to_xml

pytestmark = pytest.mark.conformance

CONF2XML = "lxc-conf2xml"
XML2XML = "lxc-xml2xml"
_UUID = re.compile(r"<uuid>[0-9a-f-]{36}</uuid>")


def check_conf2xml(case: Case) -> None:
    """Convert the config; libvirt's harness then fixes the UUID and formats the live form."""
    assert case.input is not None
    text = case.input.read_text(encoding="utf-8")
    if case.expect_failure:
        try:
            config_to_xml(text)
        except (InvalidArgumentError, ConfigUnsupportedError) as exc:
            if not re.search(r"line \d+: lxc\.", str(exc)):
                raise AssertionError(f"rejected without naming line and key: {exc}") from None
            return
        raise AssertionError("converted a configuration libvirt rejects")
    output, count = _UUID.subn(f"<uuid>{case.flags['forced_uuid']}</uuid>", config_to_xml(text))
    assert count == 1, "the converted domain has no generated UUID"
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")
    validate(output)


def check_xml2xml(case: Case) -> None:
    """Live parse with the LXC driver's defaults, live secure format."""
    assert case.input is not None
    definition = lxc_canonical(parse_domain(case.input.read_bytes()))
    output = format_domain(definition, inactive=False, secure=True)
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")
    validate(output)


def test_lxc_conf2xml() -> None:
    """At least 90% of the LXC configs convert to libvirt's XML or are rejected as by libvirt."""
    failures = run_corpus(CONF2XML, cases(CONF2XML), check_conf2xml, target=0.9)
    assert_target(CONF2XML, failures)


def test_lxc_conf2xml_must_fail() -> None:
    """Every config libvirt refuses (whole fstab files) is refused, naming line and key."""
    name = f"{CONF2XML}/must-fail"
    must_fail = [c for c in cases(CONF2XML) if c.expect_failure]
    assert must_fail, "the corpus lists no must-fail case"
    failures = run_corpus(name, must_fail, check_conf2xml, target=1.0)
    assert_target(name, failures)


def test_lxc_xml2xml() -> None:
    """At least 90% of the LXC driver's XML round trips are libvirt's, byte for byte."""
    failures = run_corpus(XML2XML, cases(XML2XML), check_xml2xml, target=0.9)
    assert_target(XML2XML, failures)
