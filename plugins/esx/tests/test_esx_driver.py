"""The ESX driver against vcsim: URIs and credentials, lifecycle, snapshots and migration
between the hosts of a vCenter cluster."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import virtkit
from virtkit.constants import DomainShutdownFlags, DomainState
from virtkit.errors import (
    ConfigUnsupportedError,
    NoConnectError,
    NoSnapshotError,
    OperationInvalidError,
    VirtError,
)
from virtkit.records import Progress


def test_uri_parameters_are_checked(esx_uri: str) -> None:
    with pytest.raises(VirtError, match="transport"):
        virtkit.open(esx_uri.replace("no_verify=1", "no_verify=1&transport=ftp"))
    with pytest.raises(VirtError, match="no_verify"):
        virtkit.open(esx_uri.replace("no_verify=1", "no_verify=yes"))
    with pytest.raises(VirtError, match="name a host only"):
        virtkit.open(esx_uri.replace("/?", "/DC0?"))


def test_certificate_checked_unless_no_verify(esx_uri: str) -> None:
    with pytest.raises(NoConnectError, match="cannot connect"):
        virtkit.open(esx_uri.replace("?no_verify=1", ""))


def test_esx_scheme_refuses_a_vcenter(vpx_uri: Callable[[str], str]) -> None:
    uri = vpx_uri("DC0_C0_H0").replace("vpx://", "esx://").split("/DC0")[0] + "/?no_verify=1"
    with pytest.raises(VirtError, match="use vpx://"):
        virtkit.open(uri)


def test_define_start_suspend_destroy_undefine(esx_uri: str) -> None:
    conn = virtkit.open(esx_uri)
    try:
        xml = (
            "<domain type='vmware'><name>vk-define</name><memory unit='MiB'>64</memory>"
            "<vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
        )
        dom = conn.define_xml(xml)
        assert dom.state()[0] == DomainState.SHUTOFF
        assert dom.info().max_memory_kib == 64 * 1024 and dom.info().vcpus == 2
        assert "<name>vk-define</name>" in dom.xml_desc()
        dom.create()
        assert dom.state()[0] == DomainState.RUNNING
        with pytest.raises(OperationInvalidError, match="already running"):
            dom.create()
        dom.suspend()
        assert dom.state()[0] == DomainState.PAUSED
        with pytest.raises(OperationInvalidError, match=r"already running \(paused\)"):
            dom.create()  # a paused domain is active: start must not resume it
        assert dom.state()[0] == DomainState.PAUSED
        dom.resume()
        dom.destroy()
        assert dom.state()[0] == DomainState.SHUTOFF
        dom.undefine()
        assert "vk-define" not in [d.name() for d in conn.list_all_domains()]
    finally:
        conn.close()


def test_snapshot_tree_revert_and_delete(esx_uri: str) -> None:
    conn = virtkit.open(esx_uri)
    try:
        dom = conn.define_xml(
            "<domain type='vmware'><name>vk-snap</name>"
            "<memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>"
        )
        dom.create()
        for name in ("a", "b"):
            dom.snapshot_create_xml(f"<domainsnapshot><name>{name}</name></domainsnapshot>")
        assert dom.snapshot_current().get_name() == "b"
        assert dom.snapshot_lookup_by_name("b").get_parent().get_name() == "a"
        assert "<parent>" in dom.snapshot_lookup_by_name("b").get_xml_desc()
        dom.revert_to_snapshot(dom.snapshot_lookup_by_name("a"))
        assert dom.snapshot_current().get_name() == "a"
        with pytest.raises(NoSnapshotError, match="'zz'"):
            dom.snapshot_lookup_by_name("zz")
        dom.snapshot_lookup_by_name("a").delete(
            virtkit.constants.DomainSnapshotDeleteFlags.CHILDREN
        )
        assert dom.snapshot_num() == 0
        dom.destroy()
        dom.undefine()
    finally:
        conn.close()


def test_migration_between_cluster_hosts(vpx_uri: Callable[[str], str]) -> None:
    src = virtkit.open(vpx_uri("DC0_C0_H0"))
    dst = virtkit.open(vpx_uri("DC0_C0_H1"))
    try:
        names = [d.name() for d in src.list_all_domains()]
        assert names, "vcsim's host DC0_C0_H0 has no VM"
        dom = src.lookup_by_name(names[0])
        seen: list[Progress] = []
        moved = dom.migrate(dst, progress=seen.append)
        assert moved.name() == names[0]
        assert names[0] in [d.name() for d in dst.list_all_domains()]
        assert names[0] not in [d.name() for d in src.list_all_domains()]
        assert seen and seen[-1].processed == seen[-1].total
    finally:
        src.close()
        dst.close()


def test_native_conversion_through_the_connection(esx_uri: str) -> None:
    vmx = (
        'config.version = "8"\nvirtualHW.version = "7"\ndisplayName = "native"\n'
        'memsize = "64"\nscsi0.present = "true"\nscsi0:0.present = "true"\n'
        'scsi0:0.fileName = "/vmfs/volumes/ds1/native/native.vmdk"\n'
    )
    with virtkit.open(esx_uri) as conn:
        xml = conn.domain_xml_from_native("vmware-vmx", vmx)
        assert "<source file='[ds1] native/native.vmdk'/>" in xml
        back = conn.domain_xml_to_native("vmware-vmx", xml)
        assert 'scsi0:0.fileName = "/vmfs/volumes/ds1/native/native.vmdk"' in back
        with pytest.raises(VirtError, match="vmware-vmx"):
            conn.domain_xml_from_native("xen-xl", vmx)
        with pytest.raises(VirtError, match="config.version"):
            conn.domain_xml_from_native("vmware-vmx", 'config.version = "7"\n')


def test_shutdown_with_timeout_leaves_it_off(esx_uri: str) -> None:
    with virtkit.open(esx_uri) as conn:
        dom = conn.define_xml(
            "<domain type='vmware'><name>vk-shutdown</name>"
            "<memory unit='MiB'>32</memory><os><type>hvm</type></os></domain>"
        )
        try:
            with pytest.raises(ConfigUnsupportedError, match="start with flag START_AUTODESTROY"):
                dom.create(autodestroy=True)  # refused, not ignored: it would outlive the caller
            dom.create()
            with pytest.raises(ConfigUnsupportedError, match="ESX driver .* flag GUEST_AGENT"):
                dom.shutdown(DomainShutdownFlags.GUEST_AGENT, timeout=5)  # only VMware Tools'
            assert dom.state()[0] == DomainState.RUNNING
            dom.shutdown(timeout=5)
            assert dom.state() == (DomainState.SHUTOFF, 1)  # shut off, reason shutdown
        finally:
            dom.undefine()


def test_gsx_and_vpx_uris(esx_uri: str, vpx_uri: Callable[[str], str]) -> None:
    with virtkit.open(esx_uri.replace("esx://", "gsx://")) as conn:
        assert conn.get_type() == "ESX" and len(conn.list_all_domains()) >= 2
    with virtkit.open(vpx_uri("DC0_C0_H1")) as conn:
        assert conn.get_hostname() == "DC0_C0_H1"
    with pytest.raises(VirtError, match="names no host"):
        virtkit.open(vpx_uri("no-such-host"))


def test_define_with_disks_and_interface(esx_uri: str) -> None:
    """Disks (existing files) and a bridged interface reach vSphere and come back in the XML."""
    xml = (
        "<domain type='vmware'><name>vk-devices</name><memory unit='MiB'>32</memory>"
        "<os><type arch='x86_64'>hvm</type></os><devices>"
        "<disk type='file' device='disk'><source file='[LocalDS_0] ha-host_VM0/disk1.vmdk'/>"
        "<target dev='sda' bus='scsi'/></disk>"
        "<controller type='scsi' index='0' model='vmpvscsi'/>"
        "<interface type='bridge'><mac address='00:50:56:01:02:03'/>"
        "<source bridge='VM Network'/><model type='vmxnet3'/></interface>"
        "</devices></domain>"
    )
    with virtkit.open(esx_uri) as conn:
        dom = conn.define_xml(xml)
        try:
            out = dom.xml_desc()
            assert "<source file='[LocalDS_0] ha-host_VM0/disk1.vmdk'/>" in out
            assert "<controller type='scsi' index='0' model='vmpvscsi'/>" in out
            assert "<mac address='00:50:56:01:02:03' type='static'/>" in out
            assert "<model type='vmxnet3'/>" in out
            with pytest.raises(VirtError, match="would change its disks or interfaces"):
                conn.define_xml(xml.replace("00:50:56:01:02:03", "00:50:56:01:02:04"))
            conn.define_xml(xml.replace("<memory unit='MiB'>32", "<memory unit='MiB'>64"))
            assert dom.info().max_memory_kib == 64 * 1024
        finally:
            dom.undefine()


def test_define_refuses_a_missing_disk_with_vsphere_words(esx_uri: str) -> None:
    xml = (
        "<domain type='vmware'><name>vk-missing</name><memory unit='MiB'>32</memory>"
        "<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
        "<source file='[LocalDS_0] nowhere/none.vmdk'/><target dev='hda' bus='ide'/></disk>"
        "</devices></domain>"
    )
    with virtkit.open(esx_uri) as conn:
        before = conn.list_all_domains()
        with pytest.raises(VirtError, match="vSphere said FileNotFound"):
            conn.define_xml(xml)
        assert conn.list_all_domains() == before
        with pytest.raises(VirtError, match="cannot define <serial"):
            conn.define_xml(xml.replace("<disk", "<serial type='pty'/><disk"))


def test_a_transient_domain_whose_start_and_clean_up_fail_reports_both(
    esx_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faults injected into the two vSphere tasks; vcsim runs everything else."""
    from virtkit_esx.session import Session

    real_run = Session.run

    def run(self: Session, action: str, call: object, *args: object, **kwargs: object) -> object:
        if action.startswith(("start of", "clean-up of")):
            raise VirtError(f"{action}: injected fault")
        return real_run(self, action, call, *args, **kwargs)

    xml = (
        "<domain type='vmware'><name>vk-doomed</name><memory unit='MiB'>32</memory>"
        "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>"
    )
    with virtkit.open(esx_uri) as conn:
        monkeypatch.setattr(Session, "run", run)
        with pytest.raises(VirtError) as caught:
            conn.create_xml(xml)
        monkeypatch.undo()
        assert "starting transient domain 'vk-doomed' failed (start of domain 'vk-doomed': " in (
            caught.value.message
        )
        assert "could not be removed: clean-up of a transient domain" in caught.value.message
        leftover = conn.lookup_by_name("vk-doomed")  # the fault kept it: remove it here
        leftover.undefine()
