"""qemu-domainsnapshot: snapshot XML parse + format as libvirt's test runs it, and the schema
cases."""

from __future__ import annotations

import pytest
from virtkit.errors import XMLError
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit.xml import SnapshotState, canonical_snapshot, format_snapshot, parse_snapshot, validate

pytestmark = pytest.mark.conformance

CORPUS = "qemu-domainsnapshot"


def _validates(case: Case) -> bool:
    assert case.input is not None
    try:
        validate(case.input.read_bytes(), schema=case.flags.get("schema"))
    except XMLError:
        return False
    return True


def check_case(case: Case) -> None:
    if case.direction == "validate":
        if _validates(case) == case.expect_failure:
            raise AssertionError("schema validation disagrees with libvirt's schema test")
        return
    assert case.input is not None
    flags = case.flags
    definition = canonical_snapshot(
        parse_snapshot(case.input.read_bytes()),
        redefine=bool(flags.get("parse_redefine")),
        internal=bool(flags.get("internal")),
        creation_time=flags.get("creation_time"),
        state=SnapshotState.RUNNING if flags.get("set_state_running") else None,
    )
    output = format_snapshot(
        definition,
        domain_uuid=flags.get("domain_uuid"),
        internal=bool(flags.get("internal")),
        secure=True,
    )
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")
    validate(output)


def test_qemu_domainsnapshot() -> None:
    failures = run_corpus(CORPUS, cases(CORPUS), check_case, target=0.9)
    assert_target(CORPUS, failures)
