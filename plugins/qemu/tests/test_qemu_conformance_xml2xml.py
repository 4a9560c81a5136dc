"""qemu-xml2xml: the QEMU driver's canonical XML (libvirt's post-parse defaults, controllers,
models and PCI addresses) against libvirt's expected files, in the inactive and live forms."""

from __future__ import annotations

import uuid
from functools import cache
from unittest import mock

import attrs
import pytest
from lxml import etree
from virtkit.errors import VirtError
from virtkit.testing.census import wrong_marks
from virtkit.testing.conformance import (
    Case,
    assert_target,
    cases,
    corpus_root,
    expected_text,
    run_corpus,
)
from virtkit.xml import format_domain, parse_domain
from virtkit.xml.parser import PARSER
from virtkit_qemu.canonical import QEMU_STEPS, QemuCaps, SocketFolders, canonical_qemu, qemu_context
from virtkit_qemu.canonical.caps import Machine

pytestmark = pytest.mark.conformance

CORPUS = "qemu-xml2xml"

#: the host GIC versions libvirt's test mocks (flags.gic), newest first
_HOST_GIC = {"GIC_NONE": (), "GIC_V2": (2,), "GIC_V3": (3,), "GIC_BOTH": (3, 2)}


@cache
def _caps_file(name: str, strip_aliases: bool) -> QemuCaps:
    path = corpus_root() / "qemu-aux" / "qemucapabilitiesdata" / name
    return QemuCaps.from_file(path, strip_aliases=strip_aliases)


def caps_for(case: Case) -> QemuCaps:
    """The capabilities libvirt's test ran ``case`` with: a cached capabilities file, or the
    basic capabilities of the domain's architecture plus the listed flags."""
    spec = case.flags["caps"]
    if spec["source"] == "real":
        return _caps_file(spec["file"], bool(spec.get("machine_aliases_stripped")))
    assert case.input is not None
    os_type = etree.fromstring(case.input.read_bytes(), PARSER).find("os/type")
    arch = os_type.get("arch") if os_type is not None else None
    gic = _HOST_GIC[case.flags.get("gic", "GIC_NONE")]
    caps = QemuCaps.from_flag_ids(arch or "x86_64", list(spec.get("flags", [])), gic)
    if caps.arch in ("i686", "x86_64"):  # the test's machines: pc (the default), isapc
        machines = [
            Machine(name=n, accel=a, default=n == "pc")
            for n in ("pc", "isapc")
            for a in ("kvm", "tcg")
        ]
        caps = attrs.evolve(caps, machines=tuple(machines))
    return caps


#: the emulator binaries of libvirt's test capabilities, by guest architecture (others:
#: ``qemu-system-ARCH``)
_TEST_EMULATORS = {"i686": "i386", "armv6l": "arm", "armv7l": "arm", "ppc64le": "ppc64"}


def emulator_for(case: Case, caps: QemuCaps) -> str:
    """The emulator libvirt's test gives a definition that names none: its capabilities'
    binary for the guest's architecture (the host's when the definition names none)."""
    assert case.input is not None
    os_type = etree.fromstring(case.input.read_bytes(), PARSER).find("os/type")
    arch = (os_type.get("arch") if os_type is not None else None) or caps.arch
    return f"/usr/bin/qemu-system-{_TEST_EMULATORS.get(arch, arch)}"


#: the socket folders of libvirt's test driver (its ``qemu.conf`` as the tests set it)
_TEST_SOCKETS = SocketFolders(channel_dir="/tmp/channel", lib_dir="/tmp/lib")
#: where libvirt's test driver keeps UEFI variable stores
_TEST_NVRAM_DIR = "/var/lib/libvirt/qemu/nvram"


def _mocked_uuid4() -> uuid.UUID:
    """What libvirt's tests draw for a random UUID: their random bytes come from a mock that
    counts 0, 1, 2, ..."""
    return uuid.UUID(bytes=bytes(range(16)), version=4)


def check_case(case: Case) -> None:
    assert case.input is not None
    inactive = case.flags["mode"] == "inactive"
    caps = caps_for(case)
    with mock.patch("uuid.uuid4", _mocked_uuid4):
        definition = canonical_qemu(
            parse_domain(case.input.read_bytes()),
            caps,
            inactive=inactive,
            emulator=emulator_for(case, caps),
            sockets=_TEST_SOCKETS,
            nvram_dir=_TEST_NVRAM_DIR,
        )
    output = format_domain(definition, inactive=inactive, secure=True)
    if output != expected_text(case):
        raise AssertionError("output differs from libvirt's")


def _mode(mode: str) -> list[Case]:
    return [c for c in cases(CORPUS) if c.flags.get("mode") == mode]


def test_qemu_xml2xml_inactive() -> None:
    """At least 60% of the inactive definitions come out exactly as libvirt writes them."""
    failures = run_corpus(CORPUS, _mode("inactive"), check_case, target=0.6)
    assert_target(CORPUS, failures)


def test_qemu_xml2xml_active() -> None:
    """The live form, on the same rules (target: 60% as well)."""
    name = f"{CORPUS}/active"
    failures = run_corpus(name, _mode("active"), check_case, target=0.6)
    assert_target(name, failures)


def test_qemu_census_marks_hold_on_libvirts_definitions() -> None:
    """The marks that let the pipeline skip steps (see ``virtkit.xml.canonical.census``) hold
    for every step of the QEMU driver on every definition of the corpus, in both modes."""
    wrong: dict[str, list[str]] = {}
    checked = 0
    for case in cases(CORPUS):
        if case.input is None or case.expect_failure:
            continue
        try:
            tree = parse_domain(case.input.read_bytes()).tree()
            caps = caps_for(case)
            context = qemu_context(
                tree,
                caps,
                inactive=case.flags["mode"] == "inactive",
                emulator=emulator_for(case, caps),
                sockets=_TEST_SOCKETS,
                nvram_dir=_TEST_NVRAM_DIR,
            )
            found = wrong_marks(tree, QEMU_STEPS, context)
        except VirtError:
            continue
        checked += 1
        if found:
            wrong[f"{case.name} ({case.flags['mode']})"] = found
    assert checked > 900
    assert not wrong, f"{len(wrong)} definitions, the first: {next(iter(wrong.items()))}"
