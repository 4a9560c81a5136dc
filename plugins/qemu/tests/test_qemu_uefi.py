"""UEFI guests (OVMF) and their variable stores, as libvirt keeps them: the store is named at
define, made from its template (given, or found through QEMU's firmware descriptors) at the
first start, follows a rename, and is removed with the domain only when asked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from virtkit.constants import DomainState
from virtkit.errors import OperationFailedError, OperationInvalidError
from virtkit.xml import parse_domain
from virtkit_qemu.argv.accel import kvm_problem
from virtkit_qemu.canonical import canonical_qemu
from virtkit_qemu.nvram import template_of

GUEST_TYPE = "kvm" if kvm_problem() is None else "qemu"

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"


@pytest.fixture(autouse=True)
def ovmf() -> None:
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: install Debian's ovmf (scripts/setup.sh does)")


def uefi_xml(name: str, nvram: str = "", loader: str = OVMF_CODE) -> str:
    return (
        f"<domain type='{GUEST_TYPE}'><name>{name}</name><memory unit='MiB'>128</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type>"
        f"<loader readonly='yes' type='pflash'>{loader}</loader>{nvram}</os>"
        "<features><acpi/></features><devices><serial type='pty'/></devices></domain>"
    )


def marked_store() -> bytes:
    """A variable store as a guest may leave it: the template's size, other contents."""
    return Path(OVMF_VARS).read_bytes()[:-9] + b"variables"


def nvram_of(dom: virtkit.Domain) -> str:
    return str(etree.fromstring(dom.xml_desc(inactive=True).encode()).findtext("os/nvram"))


def test_the_store_is_made_from_its_template_at_the_first_start(
    conn: virtkit.Connection, qemu_root: Path
) -> None:
    dom = conn.define_xml(uefi_xml("efi", f"<nvram template='{OVMF_VARS}'/>"))
    store = qemu_root / "lib" / "nvram" / "efi_VARS.fd"
    assert nvram_of(dom) == str(store)
    assert not store.exists()
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING
    assert store.read_bytes() == Path(OVMF_VARS).read_bytes()
    assert store.stat().st_mode & 0o777 == 0o600
    dom.destroy()
    store.write_bytes(marked_store())  # a store that exists is the guest's: kept as it is
    dom.create()
    dom.destroy()
    assert store.read_bytes() == marked_store()


def test_without_a_template_the_firmware_descriptor_names_it(
    conn: virtkit.Connection, qemu_root: Path
) -> None:
    assert template_of(OVMF_CODE) == OVMF_VARS  # (Debian's 60-edk2-x86_64.json)
    dom = conn.define_xml(uefi_xml("plain"))
    dom.create()
    store = Path(nvram_of(dom))
    assert store.read_bytes() == Path(OVMF_VARS).read_bytes()
    dom.destroy()


def test_a_store_that_cannot_be_made_fails_the_start_and_leaves_nothing(
    conn: virtkit.Connection, qemu_root: Path, tmp_path: Path, running_qemus: object
) -> None:
    code = tmp_path / "CODE.fd"
    code.write_bytes(Path(OVMF_CODE).read_bytes())  # a loader no descriptor knows
    dom = conn.define_xml(uefi_xml("lost", loader=str(code)))
    with pytest.raises(OperationFailedError, match="no template to make it from is known"):
        dom.create()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert not list((qemu_root / "lib").glob("nvram/*"))
    missing = tmp_path / "no-such-VARS.fd"
    dom = conn.define_xml(uefi_xml("lost2", f"<nvram template='{missing}'/>", str(code)))
    with pytest.raises(OperationFailedError, match=f"from the template {missing}"):
        dom.create()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert not list((qemu_root / "lib").glob("nvram/*"))


def test_undefine_keeps_or_removes_the_store_only_when_told(
    conn: virtkit.Connection, qemu_root: Path
) -> None:
    dom = conn.define_xml(uefi_xml("gone"))
    dom.create()
    dom.destroy()
    store = Path(nvram_of(dom))
    with pytest.raises(OperationInvalidError, match="cannot undefine domain with nvram"):
        dom.undefine()
    dom.undefine_flags(keep_nvram=True)
    assert store.exists()
    dom = conn.define_xml(uefi_xml("gone"))
    dom.undefine_flags(nvram=True)
    assert not store.exists()
    conn.define_xml(uefi_xml("never-started")).undefine()  # no store yet: nothing to ask


def test_rename_moves_the_store_named_after_the_domain(
    conn: virtkit.Connection, qemu_root: Path
) -> None:
    dom = conn.define_xml(uefi_xml("first"))
    dom.create()
    dom.destroy()
    Path(nvram_of(dom)).write_bytes(marked_store())
    dom.rename("second")
    store = qemu_root / "lib" / "nvram" / "second_VARS.fd"
    assert nvram_of(dom) == str(store)
    assert store.read_bytes() == marked_store()
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()
    assert not (qemu_root / "lib" / "nvram" / "first_VARS.fd").exists()


@pytest.mark.parametrize(
    ("os_xml", "named"),
    [
        (f"<loader readonly='yes' type='pflash'>{OVMF_CODE}</loader>", True),
        (f"<loader readonly='yes' type='pflash'>{OVMF_CODE}</loader><nvram/>", True),
        (f"<loader readonly='yes' type='pflash'>{OVMF_CODE}</loader><nvram>/x.fd</nvram>", False),
        (f"<loader type='pflash'>{OVMF_CODE}</loader>", False),  # writable: no store
        (f"<loader readonly='yes' type='pflash' stateless='yes'>{OVMF_CODE}</loader>", False),
        (f"<loader>{OVMF_CODE}</loader>", False),  # a ROM
    ],
)
def test_the_canonical_form_names_a_store_where_libvirt_does(os_xml: str, named: bool) -> None:
    xml = (
        "<domain type='qemu'><name>vm</name><memory>65536</memory>"
        f"<os><type arch='x86_64'>hvm</type>{os_xml}</os></domain>"
    )
    tree = canonical_qemu(parse_domain(xml), nvram_dir="/nv").tree()
    assert (tree.findtext("os/nvram") == "/nv/vm_VARS.fd") is named
