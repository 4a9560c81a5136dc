"""vmware-vmx2xml and vmware-xml2vmx: libvirt's VMX converter tests, with their harness's
file-name mapping (see the corpus README)."""

from __future__ import annotations

import pytest
from virtkit.errors import VirtError
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit.xml import parse_domain
from virtkit_esx.paths import VOLUMES, PathMapper
from virtkit_esx.vmx2xml import vmx_to_xml
from virtkit_esx.xml2vmx import xml_to_vmx

pytestmark = pytest.mark.conformance


def _harness_exists(datastore: str, path: str) -> bool:
    """libvirt's test callback: a datastore called 'missing' or a file starting with 'missing'
    does not exist."""
    return datastore != "missing" and not path.startswith("missing")


HARNESS_PATHS = PathMapper(datastore="datastore", directory="directory", exists=_harness_exists)


def check_vmx2xml(case: Case) -> None:
    assert case.input is not None
    text = case.input.read_text(encoding="utf-8")
    if case.expect_failure:
        try:
            vmx_to_xml(text, HARNESS_PATHS)
        except VirtError:
            return
        raise AssertionError("converted a .vmx that libvirt rejects")
    output = vmx_to_xml(text, HARNESS_PATHS)
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")


def check_xml2vmx(case: Case) -> None:
    assert case.input is not None
    definition = parse_domain(case.input.read_bytes())
    output = xml_to_vmx(definition, virtual_hw_version=case.flags["virtual_hw_version"])
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")


def test_vmx2xml() -> None:
    """At least 90% of libvirt's vmx2xml cases convert byte for byte (or are rejected)."""
    name = "vmware-vmx2xml"
    assert_target(name, run_corpus(name, cases(name), check_vmx2xml, target=0.9))


def test_vmx2xml_missing_disks_rejected() -> None:
    """Every .vmx whose hard disk is missing is rejected."""
    name = "vmware-vmx2xml/must-fail"
    items = [c for c in cases("vmware-vmx2xml") if c.expect_failure]
    assert items, "the corpus lists no must-fail case"
    assert_target(name, run_corpus(name, items, check_vmx2xml, target=1.0))


def test_xml2vmx() -> None:
    """At least 90% of libvirt's xml2vmx cases produce its .vmx byte for byte."""
    name = "vmware-xml2vmx"
    assert_target(name, run_corpus(name, cases(name), check_xml2vmx, target=0.9))


def test_harness_mapping_round_trip() -> None:
    """The path mapper turns a datastore path into a .vmx file name and back."""
    vmx_name = PathMapper.to_vmx("[ds1] vm/disk.vmdk")
    assert vmx_name == f"{VOLUMES}ds1/vm/disk.vmdk"
    assert HARNESS_PATHS.from_vmx(vmx_name) == "[ds1] vm/disk.vmdk"
