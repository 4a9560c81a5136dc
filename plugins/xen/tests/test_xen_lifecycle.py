"""Lifecycle of PV and PVH guests on a real Xen host, through ``xen+ssh://``."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import virtkit
from virtkit.constants import DomainShutdownFlags, DomainState, DomainUndefineFlags
from virtkit.errors import (
    ConfigUnsupportedError,
    NoConnectError,
    OperationInvalidError,
    VirtError,
)
from virtkit_xen.testhost import XenHost, console_waiter, guest_xml

pytestmark = pytest.mark.xen


@pytest.fixture(scope="module")
def conn(xen_uri: str) -> Iterator[virtkit.Connection]:
    c = virtkit.open(xen_uri)
    yield c
    c.close()


def _ticks(host: XenHost, name: str) -> int:
    out = host.run(f"grep -o 'tick [0-9]*' /var/log/xen/console/guest-{name}.log | tail -1")
    match = re.search(r"tick (\d+)", out)
    assert match, f"guest {name} printed no tick"
    return int(match.group(1))


def _boots(host: XenHost, name: str) -> int:
    """How many times guest ``name`` has printed its boot line since its log was cleared."""
    return int(host.run(f"grep -c GUEST-OK /var/log/xen/console/guest-{name}.log || true"))


def _wait_for_boot(host: XenHost, name: str, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while _boots(host, name) < count:
        assert time.monotonic() < deadline, f"guest {name} did not boot again in {timeout} s"
        time.sleep(2)


def test_pv_guest_lifecycle(conn: virtkit.Connection, xen_host: XenHost) -> None:
    """define, start, pause, resume, save, restore, managed save, reboot, shutdown, undefine."""
    wait = console_waiter(xen_host)
    xen_host.run("rm -f /var/log/xen/console/guest-vk-pv.log")
    dom = conn.define_xml(guest_xml("vk-pv"))
    try:
        assert dom.state()[0] == DomainState.SHUTOFF
        assert "<name>vk-pv</name>" in xen_host.run("cat /var/lib/virtkit/xen/domains/vk-pv.xml")
        with pytest.raises(ConfigUnsupportedError, match="start with flag START_AUTODESTROY"):
            dom.create(autodestroy=True)  # refused, not ignored: it would outlive the caller
        assert dom.state()[0] == DomainState.SHUTOFF
        dom.create()
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert dom.id() > 0
        wait("vk-pv", "tick 2")
        with pytest.raises(OperationInvalidError):
            dom.create()

        dom.suspend()
        assert dom.state()[0] == DomainState.PAUSED
        paused_at = _ticks(xen_host, "vk-pv")
        xen_host.run("sleep 3")
        assert _ticks(xen_host, "vk-pv") <= paused_at + 1, "the guest ran on while paused"
        dom.resume()
        wait("vk-pv", f"tick {paused_at + 2}")

        image = "/var/lib/xen/vk-pv.save"
        with pytest.raises(ConfigUnsupportedError, match="save with another domain XML"):
            dom.save(image, guest_xml("vk-pv"))  # xl keeps the configuration it has
        dom.save(image)
        assert dom.state()[0] == DomainState.SHUTOFF
        saved_at = _ticks(xen_host, "vk-pv")
        restored = conn.restore(image)
        assert restored.name() == "vk-pv"
        # the counter goes on from where it was: memory came back, the guest did not reboot
        wait("vk-pv", f"tick {saved_at + 2}")

        dom.managed_save()
        assert dom.has_managed_save_image()
        before = _ticks(xen_host, "vk-pv")
        dom.create()
        assert not dom.has_managed_save_image()
        wait("vk-pv", f"tick {before + 2}")

        # a PV reboot request: the guest restarts (its boot line again) in a new Xen domain
        boots, domid = _boots(xen_host, "vk-pv"), dom.id()
        dom.reboot()
        _wait_for_boot(xen_host, "vk-pv", boots + 1)
        assert dom.state()[0] == DomainState.RUNNING
        assert dom.id() != domid

        with pytest.raises(ConfigUnsupportedError, match="Xen driver .* flag ACPI_POWER_BTN"):
            dom.shutdown(DomainShutdownFlags.ACPI_POWER_BTN)  # a PV guest has no ACPI
        dom.shutdown(DomainShutdownFlags.PARAVIRT, timeout=90)
        assert dom.state()[0] == DomainState.SHUTOFF
    finally:
        if dom.is_active():
            dom.destroy()
        dom.undefine()
    assert "vk-pv" not in [d.name() for d in conn.list_all_domains()]


PVH_ATTEMPTS = 3
"""Runs of the PVH test the emulated CPU may spoil (see the test)."""


@pytest.fixture
def no_stray_pvh_guest(xen_host: XenHost) -> Iterator[None]:
    yield
    xen_host.destroy_guest("vk-pvh")


@pytest.mark.usefixtures("no_stray_pvh_guest")
def test_pvh_guest_console_through_the_cli(
    conn: virtkit.Connection, xen_host: XenHost, xen_uri: str
) -> None:
    """A transient PVH guest (type='xenpvh') boots, ``virtkit console`` shows its console
    (``xl console`` over ``ssh -t``) as it ticks, Ctrl+] leaves, and destroy stops it.

    A PVH guest runs on the SVM that QEMU's TCG emulates for the test host, which now and then
    triple-faults the guest (Xen then reboots it, its console ends, it may vanish) or makes its
    kernel panic (Xen then destroys it): such a run, recognised by a new triple-fault line in
    Xen's log or a new panic in the guest's console log, is tried again with a new guest."""
    for attempt in range(1, PVH_ATTEMPTS + 1):
        faults = set(xen_host.emulation_faults("vk-pvh"))
        try:
            dom = conn.create_xml(guest_xml("vk-pvh", pvh=True))
            assert "pvh" in xen_host.run("xl list -l vk-pvh | grep -m1 '\"type\"'")
            seen = _console_through_the_cli(xen_uri, "vk-pvh")
            break
        except (AssertionError, VirtError):
            new_faults = [f for f in xen_host.emulation_faults("vk-pvh") if f not in faults]
            if attempt == PVH_ATTEMPTS or not new_faults:
                raise
            print(f"the emulated CPU failed the guest, a new one is tried: {new_faults}")
            xen_host.destroy_guest("vk-pvh")
    ticks = [int(n) for n in re.findall(rb"tick (\d+)", seen)]
    assert ticks == sorted(ticks) and ticks[-1] > ticks[0], seen[-300:]
    with pytest.raises(OperationInvalidError, match="no console 'serial7'"):
        dom.open_console("serial7")
    dom.destroy()
    assert "vk-pvh" not in [d.name() for d in conn.list_all_domains()]
    with pytest.raises(VirtError, match="no domain|not running"):
        dom.open_console()


def _console_through_the_cli(uri: str, name: str) -> bytes:
    """``virtkit console NAME`` up to two ``tick N`` lines, then Ctrl+], which must end it
    with status 0."""
    console = subprocess.Popen(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, "console", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = _read_until_ticks(console, count=2, timeout=240)
        console.stdin.write(b"\x1d")  # type: ignore[union-attr]
        console.stdin.flush()  # type: ignore[union-attr]
        assert console.wait(30) == 0, console.stderr.read()  # type: ignore[union-attr]
    finally:
        console.kill()
        console.wait()
    return seen


def _read_until_ticks(process: subprocess.Popen[bytes], count: int, timeout: float) -> bytes:
    """The console output of ``virtkit console`` up to its ``count``-th ``tick N`` line."""
    out = process.stdout
    assert out is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while len(re.findall(rb"tick \d+\r?\n", seen)) < count:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([out], [], [], max(left, 0))
        assert ready, f"no {count} tick lines on the console within {timeout} s: {seen[-300:]!r}"
        data = os.read(out.fileno(), 4096)
        assert data, f"the console ended: {seen[-300:]!r} {process.stderr.read()!r}"  # type: ignore[union-attr]
        seen += data
    return seen


HVM_XML = """<domain type='xen'>
  <name>vk-hvm</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='xenfv'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/><pae/></features>
</domain>
"""


def test_hvm_guest_without_firmware_fails_cleanly(
    conn: virtkit.Connection, xen_host: XenHost
) -> None:
    """The test dom0 has no HVM firmware or device model: starting an HVM guest fails with
    libxl's cause (not its clean-up lines), and the domain is left defined and shut off."""
    dom = conn.define_xml(HVM_XML)
    try:
        with pytest.raises(VirtError, match=r"xl create failed .*failed to read BIOS file"):
            dom.create()
        assert dom.state()[0] == DomainState.SHUTOFF
        assert "vk-hvm" not in xen_host.run("xl list")
        assert 'builder = "hvm"' in xen_host.run("cat /var/lib/virtkit/xen/domains/vk-hvm.cfg")
    finally:
        dom.undefine()


#: an ``xl`` ahead of the real one on the dom0's PATH: ``create`` and ``restore`` create the
#: domain, then fail the way ``xl`` does when the process that watches the domain dies
FAILING_XL = """#!/bin/sh
/usr/sbin/xl "$@" || exit $?
case "$1" in create|restore)
  echo "libxl: error: injected: domain monitoring daemonizing child died due to fatal signal" >&2
  exit 3;;
esac
"""


@pytest.fixture
def failing_xl(xen_host: XenHost) -> Iterator[Callable[[bool], None]]:
    """Turns the failing ``xl`` on (True) and off (False); off at the end."""

    def switch(on: bool) -> None:
        if on:
            xen_host.run(
                f"cat > /usr/local/sbin/xl <<'EOF'\n{FAILING_XL}EOF\nchmod 755 /usr/local/sbin/xl"
            )
        else:
            xen_host.run("rm -f /usr/local/sbin/xl")

    yield switch
    switch(False)


def test_start_that_xl_fails_after_creating_the_domain_leaves_no_domain(
    conn: virtkit.Connection, xen_host: XenHost, failing_xl: Callable[[bool], None]
) -> None:
    """``xl create``/``xl restore`` that fail once the domain exists (its watching process died)
    leave no domain behind: the start fails with xl's message, the domain stays defined and
    shut off, a managed save image stays for the next start, and that start works."""
    wait = console_waiter(xen_host)
    xen_host.run("rm -f /var/log/xen/console/guest-vk-fault.log")
    dom = conn.define_xml(guest_xml("vk-fault"))
    try:
        failing_xl(True)
        with pytest.raises(VirtError, match="xl create failed .*daemonizing child died"):
            dom.create()
        assert dom.state()[0] == DomainState.SHUTOFF
        assert "vk-fault" not in xen_host.run("xl list")

        failing_xl(False)
        dom.create()
        wait("vk-fault", "tick 1")  # a PV guest saves once its kernel answers Xen
        dom.managed_save()
        failing_xl(True)
        with pytest.raises(VirtError, match="xl restore.* failed .*daemonizing child died"):
            dom.create()
        assert dom.state()[0] == DomainState.SHUTOFF
        assert dom.has_managed_save_image()
        assert "vk-fault" not in xen_host.run("xl list")

        failing_xl(False)
        dom.create()
        assert dom.state()[0] in (DomainState.RUNNING, DomainState.BLOCKED)
        assert not dom.has_managed_save_image()
    finally:
        xen_host.destroy_guest("vk-fault")
        dom.undefine_flags(DomainUndefineFlags.MANAGED_SAVE)


def test_native_conversion_through_the_connection(conn: virtkit.Connection) -> None:
    cfg = conn.domain_xml_to_native("xen-xl", guest_xml("vk-native"))
    assert 'kernel = "/boot/vmlinuz"' in cfg
    xml = conn.domain_xml_from_native("xen-xl", cfg)
    assert "<name>vk-native</name>" in xml
    with pytest.raises(VirtError, match="unsupported config type"):
        conn.domain_xml_from_native("vmware-vmx", cfg)


def test_unreachable_host_is_a_clear_error(xen_host: XenHost) -> None:
    with pytest.raises(NoConnectError, match="cannot reach"):
        virtkit.open(f"xen+ssh://root@127.0.0.1:1/system?keyfile={xen_host.key}&no_verify=1")
    with pytest.raises(NoConnectError, match="keyfile"):
        virtkit.open("xen+ssh://root@127.0.0.1:1/system?keyfile=/nonexistent/key")
