"""Lifecycle against real QEMU: define, start, suspend, resume, destroy, transient, autodestroy,
events, a second process, a killed QEMU, failed starts."""

from __future__ import annotations

import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import virtkit
from lxml import etree
from virtkit.constants import (
    DomainCreateFlags,
    DomainDestroyFlags,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRebootFlags,
    DomainRunningReason,
    DomainSaveRestoreFlags,
    DomainShutdownFlags,
    DomainShutoffReason,
    DomainState,
    DomainUndefineFlags,
    DomainXMLFlags,
)
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
    XMLError,
)
from virtkit.state import state_roots
from virtkit.testing.conformance import corpus_root
from virtkit.uri import ConnectURI
from virtkit.xml.validate import SCHEMA_DIR_VAR
from virtkit_qemu import host as qemu_host
from virtkit_qemu.status import DomainStatus
from virtkit_qemu.store import QemuStore


def events_of(conn: virtkit.Connection) -> queue.Queue[tuple[str, int, int]]:
    seen: queue.Queue[tuple[str, int, int]] = queue.Queue()
    conn.domain_event_register(lambda c, d, e, detail, o: seen.put((d.name(), int(e), int(detail))))
    return seen


def wait_event(
    seen: queue.Queue[tuple[str, int, int]], name: str, event: DomainEventType, timeout: float = 5
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = seen.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if got[0] == name and got[1] == event:
            return got[2]
    raise AssertionError(f"no {event.name} event for {name} within {timeout} s")


def status_of(root: Path, name: str) -> DomainStatus:
    return DomainStatus.from_json((root / "run" / "status" / f"{name}.json").read_text())


def test_define_start_suspend_resume_destroy(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, running_qemus: Any
) -> None:
    seen = events_of(conn)
    dom = conn.define_xml(firmware_xml("life"))
    assert wait_event(seen, "life", DomainEventType.DEFINED) == 0
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
    assert dom.id() == -1

    dom.create()
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
    wait_event(seen, "life", DomainEventType.STARTED)
    assert dom.id() > 0 and conn.lookup_by_id(dom.id()) == dom
    pid = status_of(qemu_root, "life").pid
    assert pid in running_qemus()
    info = dom.info()
    assert info.max_memory_kib == 64 * 1024 and info.vcpus == 1 and info.cpu_time_ns > 0
    text = dom.xml_desc()
    live = etree.fromstring(text)
    assert live.get("id") == str(dom.id())
    assert live.find("devices/serial/source").get("path").startswith("/dev/pts/")
    # in libvirt's layout, as the inactive XML: an element a line, two-space indents
    assert text.splitlines()[1] == "  <name>life</name>" and '"' not in text

    dom.suspend()
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.USER)
    wait_event(seen, "life", DomainEventType.SUSPENDED)
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.UNPAUSED)
    wait_event(seen, "life", DomainEventType.RESUMED)
    with pytest.raises(OperationInvalidError):
        dom.create()

    dom.destroy()
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
    assert wait_event(seen, "life", DomainEventType.STOPPED) == DomainEventStoppedDetail.DESTROYED
    assert not running_qemus()
    assert not any((qemu_root / "run" / "d").iterdir()), "sockets or pidfile left behind"
    with pytest.raises(OperationInvalidError):
        dom.destroy()


def events_until_stopped(seen: queue.Queue[tuple[str, int, int]], name: str) -> list[str]:
    got: list[str] = []
    while not got or got[-1] != "STOPPED":
        who, event, _ = seen.get(timeout=5)
        if who == name:
            got.append(DomainEventType(event).name)
    return got


def test_start_reports_its_own_events_once(conn: virtkit.Connection, firmware_xml: Any) -> None:
    """The event watcher attaches while QEMU starts and sees the start's own ``cont``: no
    resume nobody asked for is reported, and commands right after the start work."""
    seen = events_of(conn)
    dom = conn.define_xml(firmware_xml("quiet"))
    dom.create()
    dom.suspend()
    dom.resume()
    time.sleep(0.3)  # the watcher has handled the start's events by now
    dom.destroy()
    expected = ["DEFINED", "STARTED", "SUSPENDED", "RESUMED", "STOPPED"]
    assert events_until_stopped(seen, "quiet") == expected
    dom.create(paused=True)
    dom.resume()
    time.sleep(0.3)
    dom.destroy()
    assert events_until_stopped(seen, "quiet") == expected[1:]


def test_destroy_is_fast(conn: virtkit.Connection, firmware_xml: Any) -> None:
    dom = conn.define_xml(firmware_xml("quick"))
    times = []
    for _ in range(3):
        dom.create()
        start = time.perf_counter()
        dom.destroy()
        times.append(time.perf_counter() - start)
    assert statistics.median(times) <= 0.2, f"destroy took {times} s (target: 200 ms)"


SECOND_PROCESS = textwrap.dedent(
    """
    import sys, virtkit
    conn = virtkit.open(sys.argv[1])
    dom = conn.lookup_by_name(sys.argv[2])
    print(int(dom.state()[0]), dom.id(), dom.info().cpu_time_ns > 0)
    if sys.argv[3] == "destroy":
        dom.destroy()
        print(int(dom.state()[0]), int(dom.state()[1]))
    """
)


def test_running_domain_outlives_its_process_and_another_process_manages_it(
    uri: str, firmware_xml: Any, qemu_root: Path, running_qemus: Any
) -> None:
    starter = textwrap.dedent(
        f"""
        import virtkit
        conn = virtkit.open({uri!r})
        conn.define_xml({firmware_xml("survivor")!r}).create()
        """
    )
    subprocess.run([sys.executable, "-c", starter], check=True, timeout=30)
    assert len(running_qemus()) == 1
    seen = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, uri, "survivor", "look"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert seen[0] == str(int(DomainState.RUNNING)) and int(seen[1]) > 0 and seen[2] == "True"
    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, uri, "survivor", "destroy"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    assert done[-2:] == [str(int(DomainState.SHUTOFF)), str(int(DomainShutoffReason.DESTROYED))]
    assert not running_qemus()


def test_killed_qemu_is_noticed(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, uri: str
) -> None:
    seen = events_of(conn)
    dom = conn.define_xml(firmware_xml("victim"))
    dom.create()
    time.sleep(0.2)  # let the event watcher attach
    os.kill(status_of(qemu_root, "victim").pid, signal.SIGKILL)
    assert wait_event(seen, "victim", DomainEventType.STOPPED) == DomainEventStoppedDetail.FAILED
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
    # A process that was not watching notices it too.
    dom.create()
    pid = status_of(qemu_root, "victim").pid
    conn.close()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    with virtkit.open(uri) as other:
        assert other.lookup_by_name("victim").state() == (
            DomainState.SHUTOFF,
            DomainShutoffReason.CRASHED,
        )


def test_failed_start_leaves_nothing(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, running_qemus: Any
) -> None:
    missing = qemu_root / "no-such-disk.qcow2"
    disk = (
        f"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{missing}'/><target dev='vda' bus='virtio'/></disk>"
    )
    dom = conn.define_xml(firmware_xml("broken", disk))
    with pytest.raises(OperationFailedError, match="no-such-disk.qcow2"):
        dom.create()
    assert dom.state()[0] == DomainState.SHUTOFF
    assert not (qemu_root / "run" / "status" / "broken.json").exists()
    assert not any((qemu_root / "run" / "d").iterdir())
    assert not running_qemus()


def test_define_refuses_an_emulator_that_is_gone_though_it_was_found_before(
    conn: virtkit.Connection, firmware_xml: Any, tmp_path: Path
) -> None:
    emulator = tmp_path / "qemu-system-x86_64"
    emulator.symlink_to("/usr/bin/qemu-system-x86_64")
    xml = firmware_xml("own-emulator").replace(
        "<devices>", f"<devices><emulator>{emulator}</emulator>"
    )
    dom = conn.define_xml(xml)  # found (and remembered)
    assert f"<emulator>{emulator}</emulator>" in dom.xml_desc()
    emulator.unlink()
    with pytest.raises(ConfigUnsupportedError, match=f"emulator '{emulator}' not found"):
        conn.define_xml(xml)
    assert dom.xml_desc() == conn.lookup_by_name("own-emulator").xml_desc()


def test_transient_domain_and_name_clash(
    conn: virtkit.Connection, firmware_xml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn.define_xml(firmware_xml("taken"))
    with pytest.raises(DomainExistsError):
        conn.create_xml(firmware_xml("taken"))
    monkeypatch.setenv(SCHEMA_DIR_VAR, str(corpus_root() / "schemas"))  # libvirt 9.0's
    dom = conn.create_xml(firmware_xml("passing"), paused=True, validate=True)
    assert not dom.is_persistent()
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.USER)
    dom.destroy()
    assert "passing" not in [d.name() for d in conn.list_all_domains()]


def test_a_taken_uuid_is_refused_and_a_transient_domain_found_by_uuid(
    conn: virtkit.Connection, firmware_xml: Any
) -> None:
    holder = conn.define_xml(firmware_xml("holder"))
    fleeting = conn.create_xml(firmware_xml("fleeting"), paused=True)
    try:
        for taken in (holder, fleeting):
            clash = firmware_xml("newcomer").replace(
                "</name>", f"</name><uuid>{taken.uuid_string()}</uuid>", 1
            )
            for make in (conn.define_xml, conn.create_xml):
                with pytest.raises(DomainExistsError, match=f"domain '{taken.name()}' already"):
                    make(clash)
        assert "newcomer" not in [d.name() for d in conn.list_all_domains()]
        assert conn.lookup_by_uuid(fleeting.uuid()) == fleeting  # found by its status alone
        assert conn.lookup_by_uuid(holder.uuid()) == holder
    finally:
        fleeting.destroy()


def test_a_definition_without_uuid_of_a_taken_name_is_refused(
    conn: virtkit.Connection, firmware_xml: Any
) -> None:
    """As libvirt 9.0 (checked against it here): XML without ``<uuid>`` draws a new one, so a
    domain of its name is another domain ("operation failed: domain 'x' already exists with
    uuid ..."); with the domain's UUID it is a redefinition."""
    dom = conn.define_xml(firmware_xml("named"))
    before = dom.xml_desc(DomainXMLFlags.INACTIVE)
    with pytest.raises(
        DomainExistsError, match=f"domain 'named' already exists with uuid {dom.uuid()}"
    ):
        conn.define_xml(firmware_xml("named").replace("64</memory>", "96</memory>"))
    assert dom.xml_desc(DomainXMLFlags.INACTIVE) == before
    conn.define_xml(before.replace("65536</memory>", "98304</memory>"))
    assert "98304</memory>" in dom.xml_desc(DomainXMLFlags.INACTIVE)


def test_a_redefinition_by_another_connection_is_seen_at_once(
    conn: virtkit.Connection, uri: str, firmware_xml: Any
) -> None:
    """Another process undefines a domain and defines one of the same name (a new UUID) within
    the file system's timestamp granularity (ext4's is a clock tick): this connection finds the
    new one, by name and by UUID. It used to keep the old UUID, remembered by file timestamp."""
    old = conn.define_xml(firmware_xml("reborn"))
    old_uuid = old.uuid()
    config = QemuStore(state_roots(ConnectURI.parse(uri), "qemu")).config.path("domains/reborn.xml")
    stamp = config.stat().st_mtime_ns
    with virtkit.open(uri) as other:
        other.lookup_by_name("reborn").undefine()
        new_uuid = other.define_xml(firmware_xml("reborn")).uuid()
    os.utime(config, ns=(stamp, stamp))  # a file system whose timestamps are coarse
    assert new_uuid != old_uuid
    assert conn.lookup_by_name("reborn").uuid() == new_uuid
    assert conn.lookup_by_uuid(new_uuid).name() == "reborn"
    with pytest.raises(NoDomainError):
        conn.lookup_by_uuid(old_uuid)


def test_a_domain_handle_reads_only_its_own_definition(
    conn: virtkit.Connection, firmware_xml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handle finds its domain by its name (checking the UUID), not by reading every
    definition for the UUID: its state costs the same with 1 domain or 1000."""
    doms = [conn.define_xml(firmware_xml(f"many-{n:02d}")) for n in range(12)]
    read: list[str] = []
    config_xml = QemuStore.config_xml
    monkeypatch.setattr(
        QemuStore, "config_xml", lambda self, name: read.append(name) or config_xml(self, name)
    )
    assert doms[5].state() == (DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
    assert doms[7].is_persistent() and not doms[7].is_active()
    assert set(read) == {"many-05", "many-07"}


def test_a_handle_follows_its_domain_defined_anew_under_another_name(
    conn: virtkit.Connection, uri: str, firmware_xml: Any
) -> None:
    """Another process undefines a domain, defines it again (same UUID) under a new name and
    gives the old name to another domain: the handle still finds its own domain, by UUID."""
    dom = conn.define_xml(firmware_xml("before"))
    xml = firmware_xml("after").replace(
        "<name>after</name>", f"<name>after</name><uuid>{dom.uuid()}</uuid>"
    )
    with virtkit.open(uri) as other:
        other.lookup_by_name("before").undefine()
        other.define_xml(xml)
        other.define_xml(firmware_xml("before"))
    assert dom.record().name == "after"
    assert conn.lookup_by_uuid(dom.uuid()).name() == "after"
    assert conn.lookup_by_name("before").uuid() != dom.uuid()


def test_a_domain_that_is_gone_leaves_no_job_files(
    conn: virtkit.Connection, firmware_xml: Any, uri: str
) -> None:
    """A domain's job lock and last job's statistics go with it: undefined, or transient and
    stopped (each domain defined anew would otherwise leave one more behind)."""
    jobs = QemuStore(state_roots(ConnectURI.parse(uri), "qemu")).run.path("jobs")
    dom = conn.define_xml(firmware_xml("kept"))
    dom.create()
    dom.managed_save()
    assert sorted(p.suffix for p in jobs.iterdir()) == [".json", ".lock"]
    dom.undefine_flags(managed_save=True)
    fleeting = conn.create_xml(firmware_xml("fleeting"))
    fleeting.suspend()
    fleeting.destroy()
    assert list(jobs.iterdir()) == []


def test_undefine_running_domain_makes_it_transient(
    conn: virtkit.Connection, firmware_xml: Any
) -> None:
    dom = conn.define_xml(firmware_xml("fleeting"))
    dom.create()
    dom.undefine()
    assert dom.is_active() and not dom.is_persistent()
    dom.destroy()
    assert conn.list_all_domains() == []


def test_autodestroy_dies_with_its_connection_and_its_process(
    conn: virtkit.Connection, firmware_xml: Any, uri: str, qemu_root: Path, running_qemus: Any
) -> None:
    with virtkit.open(uri) as owner:
        owner.create_xml(firmware_xml("ephemeral"), autodestroy=True)
        assert conn.lookup_by_name("ephemeral").is_active()
    assert "ephemeral" not in [d.name() for d in conn.list_all_domains()]
    script = textwrap.dedent(
        f"""
        import virtkit
        conn = virtkit.open({uri!r})
        conn.create_xml({firmware_xml("ephemeral2")!r}, autodestroy=True)
        """
    )  # exits without closing the connection
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert not running_qemus()
    # Even a process killed outright takes its autodestroy domain with it (the reaper).
    killed = script.replace("ephemeral2", "ephemeral3") + "import os; os.kill(os.getpid(), 9)\n"
    done = subprocess.run([sys.executable, "-c", killed], timeout=30, check=False)
    assert done.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while running_qemus() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running_qemus()
    assert "ephemeral3" not in [d.name() for d in conn.list_all_domains()]


def test_shutdown_with_timeout_powers_off_a_guest_that_ignores_acpi(
    conn: virtkit.Connection, firmware_xml: Any
) -> None:
    dom = conn.define_xml(firmware_xml("stubborn"))
    dom.create()
    start = time.monotonic()
    dom.shutdown(timeout=0.5)
    assert 0.4 <= time.monotonic() - start < 3
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)


def test_reset_and_autostart(conn: virtkit.Connection, firmware_xml: Any) -> None:
    from click.testing import CliRunner
    from virtkit.cli.app import cli
    from virtkit.cli.session import Session

    dom = conn.define_xml(firmware_xml("booter"))
    dom.set_autostart(True)
    assert dom.autostart()
    # the boot command: `virtkit -c URI autostart-all`
    result = CliRunner().invoke(cli, ["autostart-all"], obj=Session(connection=conn))
    assert (result.exit_code, result.stdout) == (0, "Domain 'booter' started\n"), result.stderr
    assert dom.is_active()
    dom.reset()
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_full_device_set_runs_in_qemu(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    qcow2, raw = qemu_root / "a.qcow2", qemu_root / "b.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "8M"], check=True)
    devices = f"""
      <disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/>
        <source file='{qcow2}'/><target dev='vda' bus='virtio'/><boot order='1'/></disk>
      <disk type='file' device='disk'><driver name='qemu' type='raw' cache='writeback'/>
        <source file='{raw}'/><target dev='sda' bus='sata'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
      <controller type='usb' model='piix3-uhci'/>
      <interface type='user'><model type='virtio'/></interface>
      <serial type='file'><source path='{qemu_root}/serial1.log'/><target port='1'/></serial>
      <input type='tablet' bus='usb'/>
      <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
      <video><model type='cirrus'/></video>
      <memballoon model='virtio'/>
      <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    """
    dom = conn.define_xml(firmware_xml("fullset", devices, dom_type="qemu"))
    mac = etree.fromstring(dom.xml_desc()).find("devices/interface/mac").get("address")
    dom.create()
    live = etree.fromstring(dom.xml_desc())
    assert live.find("devices/interface/mac").get("address") == mac  # stable from define on
    assert int(live.find("devices/graphics").get("port")) >= 5900  # the VNC port QEMU picked
    assert (qemu_root / "serial1.log").exists()
    dom.destroy()


def test_kvm_refused_when_unusable(
    conn: virtkit.Connection,
    firmware_xml: Any,
    qemu_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from virtkit_qemu.argv import builder

    monkeypatch.setattr(
        builder, "kvm_problem", lambda: "cannot open /dev/kvm: No such file or directory"
    )
    with pytest.raises(ConfigUnsupportedError, match="type='kvm'.*cannot open /dev/kvm"):
        conn.define_xml(firmware_xml("nokvm", dom_type="kvm"))
    assert conn.list_all_domains() == []
    # the definition was staged while the command line was checked: gone with the refusal
    assert os.listdir(qemu_root / "etc" / ".staging") == []


def test_undefine_flags_remove_managed_save(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    dom = conn.define_xml(firmware_xml("keeper"))
    dom.create()
    dom.managed_save()
    assert dom.has_managed_save_image()
    dom.undefine_flags(DomainUndefineFlags.MANAGED_SAVE)
    assert conn.list_all_domains() == []
    assert not list((qemu_root / "lib" / "save").iterdir())


def test_console_is_the_serial_pty(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    extra = f"<serial type='file'><source path='{qemu_root}/s1.log'/><target port='1'/></serial>"
    dom = conn.define_xml(firmware_xml("talker", extra))
    with pytest.raises(OperationInvalidError, match="not running"):
        dom.open_console()
    dom.create()
    path = dom.open_console()
    assert path == dom.open_console("serial0")
    # libvirt's live form: the console is the first serial port, under its alias, and only
    # the console keeps the legacy tty attribute
    live = etree.fromstring(dom.xml_desc())
    serial, console = live.find("devices/serial"), live.find("devices/console")
    assert serial.get("tty") is None and serial.find("source").get("path") == path
    assert console.get("tty") == path and console.find("alias").get("name") == "serial0"
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)
    with pytest.raises(OperationInvalidError, match="type 'file' cannot be attached"):
        dom.open_console("serial1")
    with pytest.raises(OperationInvalidError, match="no device 'serial9'"):
        dom.open_console("serial9")
    with pytest.raises(OperationInvalidError, match="no device 'it's'"):
        dom.open_console("it's")  # a quote is a name like any other
    dom.destroy()


def test_channels_listen_where_the_live_xml_says(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    """The guest agent's channel as virt-install writes it (no path) listens on a socket in
    the domain's run-time folder, which only the live XML shows; a pty channel is a console
    to attach to by its alias."""
    extra = (
        "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
        "<channel type='pty'><target type='virtio' name='com.example.pty'/></channel>"
    )
    dom = conn.define_xml(firmware_xml("agent", extra))
    inactive = dom.xml_desc(DomainXMLFlags.INACTIVE)
    assert etree.fromstring(inactive).findall("devices/channel/source") == []
    dom.create()
    agent, pty = etree.fromstring(dom.xml_desc()).findall("devices/channel")
    path = agent.find("source").get("path")
    assert agent.find("source").get("mode") == "bind"
    assert path.startswith(f"{qemu_root}/run/") and path.endswith("/org.qemu.guest_agent.0")
    assert [c.find("alias").get("name") for c in (agent, pty)] == ["channel0", "channel1"]
    # no guest opened its port: the firmware runs no agent
    assert [c.find("target").get("state") for c in (agent, pty)] == ["disconnected"] * 2
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)  # QEMU listens there
    tty = dom.open_console("channel1")
    assert tty == pty.find("source").get("path") and os.path.exists(tty)
    assert dom.xml_desc(DomainXMLFlags.INACTIVE) == inactive
    # what a destination would run: without this QEMU's choices (id, ptys, the socket)
    migratable = etree.fromstring(dom.xml_desc(migratable=True))
    assert migratable.get("id") is None
    assert migratable.findall("devices/channel/source") == []
    assert migratable.find("devices/serial").get("tty") is None
    dom.destroy()
    assert not os.path.exists(path)


def test_sound_cards_start_with_the_guest(conn: virtkit.Connection, firmware_xml: Any) -> None:
    """QEMU takes the sound cards as the command line gives them (HD Audio with a codec,
    AC97, ES1370), on the PCI addresses of the canonical XML, with its silent backend."""
    sounds = "<sound model='ich6'><codec type='micro'/></sound><sound model='ac97'/>"
    dom = conn.define_xml(firmware_xml("sound", sounds + "<sound model='es1370'/>"))
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING
    live = etree.fromstring(dom.xml_desc())
    cards = live.findall("devices/sound")
    assert [c.get("model") for c in cards] == ["ich6", "ac97", "es1370"]
    assert all(c.find("address").get("type") == "pci" for c in cards)
    assert live.find("devices/audio").get("type") == "none"
    dom.destroy()


def test_cli_ttyconsole_and_vncdisplay_of_a_running_guest(
    conn: virtkit.Connection, firmware_xml: Any, uri: str
) -> None:
    """A VNC console defined without an address shows the one QEMU listens on while it runs
    (as libvirt's live XML does), and only then."""
    dom = conn.define_xml(firmware_xml("screens", "<graphics type='vnc'/>"))
    dom.create()
    live = etree.fromstring(dom.xml_desc()).find("devices/graphics")
    assert live.get("listen") == live.find("listen").get("address") == "127.0.0.1"
    for flags in (DomainXMLFlags.INACTIVE, DomainXMLFlags.MIGRATABLE):
        graphics = etree.fromstring(dom.xml_desc(flags)).find("devices/graphics")
        assert graphics.get("listen") is graphics.find("listen").get("address") is None

    def virtkit_cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "virtkit.cli", "-c", uri, *args, "screens"],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    assert virtkit_cli("ttyconsole") == dom.open_console() + "\n\n"
    port = int(etree.fromstring(dom.xml_desc()).find("devices/graphics").get("port"))
    assert port >= 5900 and virtkit_cli("vncdisplay") == f"127.0.0.1:{port - 5900}\n\n"
    dom.destroy()


def test_flags_the_driver_cannot_honour_are_refused_and_change_nothing(
    conn: virtkit.Connection, firmware_xml: Any, tmp_path: Path
) -> None:
    dom = conn.define_xml(firmware_xml("flags"))
    with pytest.raises(ConfigUnsupportedError, match="start with flag START_BYPASS_CACHE"):
        dom.create(DomainCreateFlags.START_BYPASS_CACHE)
    assert not dom.is_active()
    dom.create()
    image = tmp_path / "flags.save"
    refused = [
        (lambda: dom.shutdown(DomainShutdownFlags.GUEST_AGENT), "shutdown with flag GUEST_AGENT"),
        (
            lambda: dom.reboot(DomainRebootFlags.INITCTL | DomainRebootFlags.SIGNAL),
            "reboot with flags INITCTL, SIGNAL",
        ),
        (lambda: dom.xml_desc(DomainXMLFlags.UPDATE_CPU), "XML with flag UPDATE_CPU"),
        (
            lambda: dom.save(str(image), None, DomainSaveRestoreFlags.BYPASS_CACHE),
            "save with flag BYPASS_CACHE",
        ),
        (lambda: dom.undefine_flags(DomainUndefineFlags.TPM), "undefine with flag TPM"),
    ]
    for call, message in refused:
        with pytest.raises(
            ConfigUnsupportedError, match=f"QEMU driver does not support .*{message}"
        ):
            call()
        assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
    assert not image.exists() and dom.is_persistent()
    dom.destroy(DomainDestroyFlags.GRACEFUL)  # QEMU ends on SIGTERM
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)


def test_a_graceful_destroy_fails_rather_than_kill(
    conn: virtkit.Connection,
    firmware_xml: Any,
    qemu_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(qemu_host, "GRACEFUL_TIMEOUT", 0.3)
    dom = conn.define_xml(firmware_xml("stubborn"))
    dom.create()
    pid = status_of(qemu_root, "stubborn").pid
    os.kill(pid, signal.SIGSTOP)  # a stopped process acts on no signal but SIGKILL
    try:
        with pytest.raises(OperationFailedError, match="cannot stop domain 'stubborn' gracefully"):
            dom.destroy(DomainDestroyFlags.GRACEFUL)
        assert dom.state()[0] == DomainState.RUNNING and os.path.exists(f"/proc/{pid}")
    finally:
        os.kill(pid, signal.SIGCONT)  # ... and then ends on the SIGTERM it was sent
    deadline = time.monotonic() + 10
    while dom.is_active() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not dom.is_active()


def test_pause_by_another_process_reaches_this_connections_listeners(
    conn: virtkit.Connection, firmware_xml: Any, uri: str
) -> None:
    seen = events_of(conn)
    dom = conn.define_xml(firmware_xml("shared"))
    dom.create()
    wait_event(seen, "shared", DomainEventType.STARTED)
    time.sleep(0.2)  # this connection's watcher holds the domain's event socket by now
    script = "import sys, virtkit; virtkit.open(sys.argv[1]).lookup_by_name('shared').suspend()"
    subprocess.run([sys.executable, "-c", script, uri], check=True, timeout=30)
    wait_event(seen, "shared", DomainEventType.SUSPENDED)
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.USER)
    dom.resume()
    wait_event(seen, "shared", DomainEventType.RESUMED)
    assert seen.empty() or all(e[1] != DomainEventType.SUSPENDED for e in list(seen.queue))
    dom.destroy()


def test_a_pause_made_outside_virtkit_after_its_own_is_recorded_and_reported(
    conn: virtkit.Connection, firmware_xml: Any, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher passes over the events of this process's own suspend and resume (they are
    recorded already) without waking its worker, but not a ``stop`` sent to QEMU's monitor by
    someone else afterwards."""
    from virtkit_qemu.qmp import Monitor
    from virtkit_qemu.watcher import STATE_EVENT_DELAY, EventWatcher

    handled: list[str] = []
    on_event = EventWatcher._on_event

    def recording(watcher: EventWatcher, status: DomainStatus, event: dict[str, Any]) -> None:
        handled.append(event["event"])
        on_event(watcher, status, event)

    monkeypatch.setattr(EventWatcher, "_on_event", recording)
    seen = events_of(conn)
    dom = conn.define_xml(firmware_xml("outside"))
    dom.create()
    wait_event(seen, "outside", DomainEventType.STARTED)
    time.sleep(0.2)  # the watcher has attached and seen the start's own events
    handled.clear()
    dom.suspend()
    dom.resume()
    wait_event(seen, "outside", DomainEventType.RESUMED)
    time.sleep(STATE_EVENT_DELAY + 0.2)  # the watcher has passed over them
    assert handled == [], "the worker was woken for this process's own suspend and resume"
    store = QemuStore(state_roots(ConnectURI.parse(uri), "qemu"))
    with Monitor(store.runtime_paths(dom.uuid()).qmp, name="outside") as mon:
        mon.execute("stop")
    wait_event(seen, "outside", DomainEventType.SUSPENDED)
    assert handled == ["STOP"]
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.UNKNOWN)
    dom.destroy()


def test_rename_moves_the_definition_autostart_and_shut_off_reason(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, uri: str
) -> None:
    """An inactive domain takes its new name with its UUID, autostart mark and the reason it
    shut off, seen by another process too; the old name is gone, files included."""
    dom = conn.define_xml(firmware_xml("before"))
    dom.set_autostart(True)
    dom.create()
    dom.destroy()
    seen = events_of(conn)
    dom.rename("after")
    assert wait_event(seen, "before", DomainEventType.UNDEFINED) == 1  # renamed
    assert wait_event(seen, "after", DomainEventType.DEFINED) == 2  # renamed
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
    assert dom.autostart()
    with pytest.raises(NoDomainError):
        conn.lookup_by_name("before")
    # (its log stays where it was written, as libvirt leaves it)
    assert [p.name for p in qemu_root.rglob("*before*") if p.suffix != ".log"] == []
    other = subprocess.run(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, "list", "--all", "--autostart", "--name"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.split() == ["after"]
    dom.create()
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_rename_is_refused_as_libvirt_refuses_it_and_changes_nothing(
    conn: virtkit.Connection, firmware_xml: Any, qcow2_disk: Any, qemu_root: Path
) -> None:
    dom = conn.define_xml(firmware_xml("named", qcow2_disk()))
    conn.define_xml(firmware_xml("taken"))
    config = (qemu_root / "etc" / "domains" / "named.xml").read_text()
    with pytest.raises(XMLError, match="cannot contain '/'"):
        dom.rename("a/b")
    with pytest.raises(OperationInvalidError, match="domain with name 'taken' already exists"):
        dom.rename("taken")
    dom.create()
    with pytest.raises(OperationInvalidError, match="cannot rename active domain"):
        dom.rename("other")
    dom.snapshot_create_xml("<domainsnapshot><name>s</name></domainsnapshot>")
    dom.managed_save()
    with pytest.raises(OperationInvalidError, match="managed saved state"):
        dom.rename("other")
    dom.managed_save_remove()
    with pytest.raises(OperationInvalidError, match="cannot rename domain with snapshots"):
        dom.rename("other")
    with pytest.raises(ConfigUnsupportedError, match="rename with flag 0x1"):
        dom.rename("other", 1)
    assert (qemu_root / "etc" / "domains" / "named.xml").read_text() == config
    assert [d.name() for d in conn.list_all_domains()] == ["named", "taken"]
