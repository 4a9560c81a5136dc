"""Migration of firmware-only guests between two embedded roots (two hosts): through the CLI,
paused over a unix socket, copying storage over NBD, offline with snapshot metadata, and the
refusals of prepare (name clash, missing disk, unwritable root) that must leave the source as it
was and the destination clean."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import virtkit
from lxml import etree
from stevedore import ExtensionManager
from virtkit.constants import DomainJobType, DomainRunningReason, DomainState
from virtkit.constants import DomainMigrateFlags as F
from virtkit.errors import ErrorCode
from virtkit.migration import MigrationError
from virtkit_qemu import process
from virtkit_qemu.guest_image import READY_LINE, serial_counters, wait_for_serial
from virtkit_qemu.migration import Listen, listen_on
from virtkit_qemu.migration_storage import SourceDisk, plan_disks, source_disks

pytestmark = [pytest.mark.qemu]


def qemus_under(root: Path) -> list[int]:
    """PIDs of live QEMUs whose command line names a path under ``root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        started = process.start_time(int(pid))
        if "qemu-system" not in cmdline or f"{root}/" not in cmdline or started is None:
            continue
        if process.is_alive(int(pid), started):
            found.append(int(pid))
    return found


def domain_files(root: Path, name: str) -> list[Path]:
    """What of domain ``name`` is on disk under ``root``: definition, status, live XML,
    migration records, sockets, pidfiles (QEMU's log is kept, as after any failed start)."""
    return [
        p
        for p in root.rglob("*")
        if (p.name.startswith(f"{name}.") and "log" not in p.parts)
        or p.suffix == ".sock"
        or p.name == "pid"
    ]


def assert_clean(root: Path, name: str) -> None:
    assert qemus_under(root) == [], "a QEMU is left on the destination"
    assert domain_files(root, name) == [], "files of the domain are left on the destination"


@pytest.fixture
def roots(qemu_root: Path) -> tuple[Path, Path]:
    """Two hosts: ``a`` and ``b`` under the test's root (its cleanup checks both)."""
    a, b = qemu_root / "a", qemu_root / "b"
    a.mkdir()
    b.mkdir()
    return a, b


def _open(root: Path) -> Iterator[virtkit.Connection]:
    conn = virtkit.open(f"qemu:///embed?root={root}")
    yield conn
    for dom in conn.list_all_domains():
        if dom.is_active():
            dom.destroy()
    conn.close()


@pytest.fixture
def src(roots: tuple[Path, Path]) -> Iterator[virtkit.Connection]:
    yield from _open(roots[0])


@pytest.fixture
def dst(roots: tuple[Path, Path]) -> Iterator[virtkit.Connection]:
    yield from _open(roots[1])


AGENT_CHANNEL = (
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
)


@pytest.fixture
def running(src: virtkit.Connection, firmware_xml: Callable[..., str]) -> virtkit.Domain:
    """A running guest with QEMU's guest agent channel (its socket is chosen per host)."""
    dom = src.define_xml(firmware_xml("mig", AGENT_CHANNEL))
    dom.create()
    return dom


def expect_failure(
    dom: virtkit.Domain,
    dest: virtkit.Connection,
    phase: str,
    side: str,
    flags: int = F.LIVE,
    params: dict[str, object] | None = None,
) -> MigrationError:
    with pytest.raises(MigrationError) as info:
        dom.migrate(dest, flags, params or {})
    assert (info.value.phase, info.value.side) == (phase, side), info.value.message
    assert f"phase '{phase}' on the {side}" in info.value.message
    return info.value


def test_cli_live_persistent_undefinesource(
    running: virtkit.Domain, roots: tuple[Path, Path], dst: virtkit.Connection
) -> None:
    a, b = roots
    source_pid = qemus_under(a)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "virtkit.cli",
            "-c",
            f"qemu:///embed?root={a}",
            "migrate",
            "--live",
            "--persistent",
            "--undefinesource",
            "mig",
            f"qemu:///embed?root={b}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    moved = dst.lookup_by_name("mig")
    assert moved.state() == (DomainState.RUNNING, DomainRunningReason.MIGRATED)
    assert moved.is_persistent() and moved.uuid() == running.uuid()
    agent = etree.fromstring(moved.xml_desc()).find("devices/channel/source")
    assert agent.get("path").startswith(f"{b}/run/"), "the destination listens in its own root"
    assert running.connect().list_all_domains() == [], "the source still has the domain"
    assert qemus_under(a) == [] and len(qemus_under(b)) == 1 and source_pid != qemus_under(b)


def test_paused_over_unix_socket_and_back(
    running: virtkit.Domain,
    src: virtkit.Connection,
    dst: virtkit.Connection,
    roots: tuple[Path, Path],
) -> None:
    seen: list[int] = []
    sock = roots[1] / "m.sock"
    moved = running.migrate(
        dst,
        F.LIVE | F.PAUSED,
        {"migrate_uri": f"unix://{sock}"},
        progress=lambda p: seen.append(p.total),
    )
    assert moved.state()[0] == DomainState.PAUSED
    assert not moved.is_persistent(), "not persisted without PERSIST_DEST"
    assert seen and seen[-1] >= 64 << 20, "progress reports the guest's memory"
    assert not sock.exists(), "the migration socket is removed"
    assert running.is_persistent() and not running.is_active(), "source kept, shut off"
    job = running.job_info(completed=True)
    assert job.operation == "migration_out" and job.data_total >= 64 << 20
    assert "downtime" in job.stats and "memory_bps" in job.stats
    # back, still paused (so it stays paused), on TCP with a port the destination picks (0)
    back = moved.migrate(src, F.LIVE, {"migrate_uri": "tcp://127.0.0.1:0"})
    assert back.state()[0] == DomainState.PAUSED
    back.resume()
    assert back.state()[0] == DomainState.RUNNING
    assert dst.list_all_domains() == [], "a transient domain leaves no trace on the source"
    assert len(qemus_under(roots[0])) == 1 and qemus_under(roots[1]) == []


def test_prepare_refuses_name_clash(
    running: virtkit.Domain,
    dst: virtkit.Connection,
    firmware_xml: Callable[..., str],
    roots: tuple[Path, Path],
) -> None:
    other = dst.define_xml(firmware_xml("mig"))
    error = expect_failure(running, dst, "prepare", "destination")
    assert error.code == ErrorCode.DOM_EXIST and "already defined" in error.message
    assert running.state()[0] == DomainState.RUNNING
    assert dst.lookup_by_name("mig").uuid() == other.uuid() and not other.is_active()
    assert qemus_under(roots[1]) == []


def test_prepare_refuses_missing_disk(
    src: virtkit.Connection,
    dst: virtkit.Connection,
    firmware_xml: Callable[..., str],
    qcow2_disk: Callable[..., str],
    roots: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    dom = src.define_xml(firmware_xml("mig", devices=qcow2_disk()))
    dom.create()
    gone = str(tmp_path / "elsewhere.qcow2")
    dest_xml = dom.xml_desc().replace(str(tmp_path / "disk.qcow2"), gone)
    error = expect_failure(dom, dst, "prepare", "destination", params={"destination_xml": dest_xml})
    assert gone in error.message and "copy-storage" in error.message
    assert dom.state()[0] == DomainState.RUNNING
    assert not Path(gone).exists()
    assert_clean(roots[1], "mig")


def test_prepare_refuses_unwritable_root(
    running: virtkit.Domain, dst: virtkit.Connection, roots: tuple[Path, Path]
) -> None:
    """Root writes anywhere a mode allows nothing: the root is a read-only bind mount then."""
    b = roots[1]
    as_root = os.geteuid() == 0
    if as_root:
        subprocess.run(["mount", "--bind", str(b), str(b)], check=True)
    try:
        if as_root:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(b)], check=True)
        else:
            for folder in (b, *b.iterdir()):
                folder.chmod(0o555)
        error = expect_failure(running, dst, "prepare", "destination")
        assert "not writable" in error.message and str(b) in error.message
    finally:
        if as_root:
            subprocess.run(["umount", str(b)], check=True)
        else:
            for folder in (b, *b.iterdir()):
                folder.chmod(0o755)
    assert running.state()[0] == DomainState.RUNNING
    assert_clean(b, "mig")


MIGRATE_HOOK = """
from virtkit import hookimpl
from virtkit.constants import HookEvent


class Retag:
    @hookimpl
    def virtkit_domain_hook(self, event, name, document):
        if event == HookEvent.MIGRATE:
            tag = "<description>moved</description>"
            document.xml = document.xml.replace("</domain>", tag + "</domain>")


plugin = Retag()
"""


def test_extension_filters_the_xml_on_the_destination(
    running: virtkit.Domain,
    roots: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = tmp_path / "site"
    (site / "vk_retag-1.0.dist-info").mkdir(parents=True)
    (site / "vk_retag.py").write_text(MIGRATE_HOOK)
    (site / "vk_retag-1.0.dist-info" / "METADATA").write_text("Name: vk-retag\nVersion: 1.0\n")
    (site / "vk_retag-1.0.dist-info" / "entry_points.txt").write_text(
        "[virtkit.plugins]\nretag = vk_retag:plugin\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    monkeypatch.delitem(sys.modules, "vk_retag", raising=False)
    with virtkit.open(f"qemu:///embed?root={roots[1]}") as dest:
        moved = running.migrate(dest, F.LIVE | F.PERSIST_DEST, {})
        assert "<description>moved</description>" in moved.xml_desc()
        assert "<description>" not in running.xml_desc(), "the source keeps its definition"
        moved.destroy()


def test_bad_migration_uri_names_it(running: virtkit.Domain, dst: virtkit.Connection) -> None:
    error = expect_failure(
        running, dst, "prepare", "destination", params={"migrate_uri": "rdma:10.0.0.1"}
    )
    assert "rdma:10.0.0.1" in error.message
    assert running.state()[0] == DomainState.RUNNING


@pytest.mark.parametrize(
    ("params", "named"),
    [({"speed": 5}, "'speed'"), ({"bandwidth": 0}, "'bandwidth'"), ({"max_downtime": "x"}, "'x'")],
)
def test_bad_parameters_refused_at_begin(
    running: virtkit.Domain,
    dst: virtkit.Connection,
    params: dict[str, object],
    named: str,
    roots: tuple[Path, Path],
) -> None:
    error = expect_failure(running, dst, "begin", "source", params=params)
    assert named in error.message
    assert running.state()[0] == DomainState.RUNNING and qemus_under(roots[1]) == []


def _disk_with_data(tmp_path: Path) -> Path:
    path = tmp_path / "data.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "16M"], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 3M", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _disk_xml(path: Path) -> str:
    return (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{path}'/><target dev='vda' bus='virtio'/></disk>"
    )


def test_copy_storage_all_copies_local_disk(
    src: virtkit.Connection,
    dst: virtkit.Connection,
    firmware_xml: Callable[..., str],
    tmp_path: Path,
    roots: tuple[Path, Path],
) -> None:
    disk = _disk_with_data(tmp_path)
    dom = src.define_xml(firmware_xml("mig", devices=_disk_xml(disk)))
    dom.create()
    copy = tmp_path / "copy" / "data.qcow2"
    copy.parent.mkdir()
    dest_xml = dom.xml_desc().replace(str(disk), str(copy))
    moved = dom.migrate(dst, F.LIVE | F.NON_SHARED_DISK, {"destination_xml": dest_xml})
    assert moved.state()[0] == DomainState.RUNNING
    moved.destroy()
    compared = subprocess.run(
        ["qemu-img", "compare", str(disk), str(copy)], capture_output=True, text=True, check=False
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr


def test_copy_storage_all_skips_shared_disk(
    src: virtkit.Connection,
    dst: virtkit.Connection,
    firmware_xml: Callable[..., str],
    tmp_path: Path,
) -> None:
    disk = _disk_with_data(tmp_path)
    identity = disk.stat().st_ino
    dom = src.define_xml(firmware_xml("mig", devices=_disk_xml(disk)))
    dom.create()
    moved = dom.migrate(dst, F.LIVE | F.NON_SHARED_DISK, {})
    assert moved.state()[0] == DomainState.RUNNING
    assert disk.stat().st_ino == identity and sorted(p.name for p in tmp_path.iterdir()) == [
        "data.qcow2"
    ]


@pytest.mark.parametrize(
    ("params", "listen", "connect"),
    [
        ({}, "tcp:127.0.0.1:0", "127.0.0.1"),
        ({"listen_address": "0.0.0.0"}, "tcp:0.0.0.0:0", "127.0.0.1"),
        ({"migrate_uri": "tcp://192.0.2.7:49200"}, "tcp:192.0.2.7:49200", "192.0.2.7"),
        ({"migrate_uri": "tcp:[::1]", "listen_address": "::"}, "tcp:[::]:0", "::1"),
        ({"migrate_uri": "unix:///run/m.sock"}, "unix:/run/m.sock", ""),
    ],
)
def test_listen_address_and_migration_uri(
    params: dict[str, str], listen: str, connect: str
) -> None:
    assert listen_on(params) == Listen(uri=listen, connect_host=connect)


@pytest.mark.parametrize("uri", ["rdma:h", "tcp:", "tcp:host:port", "unix:"])
def test_bad_migration_uri_refused(uri: str) -> None:
    with pytest.raises(virtkit.errors.InvalidArgumentError, match=re.escape(uri)):
        listen_on({"migrate_uri": uri})


def test_plan_disks_tells_shared_from_copied(tmp_path: Path) -> None:
    disk = _disk_with_data(tmp_path)
    [source] = source_disks(firmware_disk_xml(disk), sizes=True)
    assert source == SourceDisk(
        target="vda",
        path=str(disk),
        device=disk.stat().st_dev,
        inode=disk.stat().st_ino,
        format="qcow2",
        size=16 << 20,
    )
    assert plan_disks(firmware_disk_xml(disk), [source], copy=True).copies == ()
    other = tmp_path / "other.qcow2"
    plan = plan_disks(firmware_disk_xml(other), [source], copy=True)
    assert plan.copies == ("vda",) and plan.created == (str(other),) and other.exists()
    with pytest.raises(virtkit.errors.OperationInvalidError, match="does not exist"):
        plan_disks(firmware_disk_xml(tmp_path / "none.qcow2"), [source], copy=False)


def firmware_disk_xml(path: Path) -> str:
    return (
        "<domain type='qemu'><name>d</name><memory unit='MiB'>64</memory><os><type>hvm</type>"
        f"</os><devices>{_disk_xml(path)}</devices></domain>"
    )


def test_offline_moves_definition_and_snapshots(
    src: virtkit.Connection,
    dst: virtkit.Connection,
    firmware_xml: Callable[..., str],
    qcow2_disk: Callable[..., str],
) -> None:
    dom = src.define_xml(firmware_xml("mig", devices=qcow2_disk()))
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>")
    with pytest.raises(MigrationError, match="'begin' on the source"):
        dom.migrate(dst, F.OFFLINE, {})  # offline needs persist_dest
    moved = dom.migrate(dst, F.OFFLINE | F.PERSIST_DEST | F.UNDEFINE_SOURCE, {})
    assert moved.is_persistent() and not moved.is_active()
    assert sorted(s.get_name() for s in moved.list_all_snapshots()) == ["s1", "s2"]
    assert moved.snapshot_current().get_name() == "s2"
    assert src.list_all_domains() == []
    moved.create()
    assert moved.is_active()


# ---------------------------------------------------------------------- a real Linux guest (TCG)

BOOT_TIMEOUT = 90


@pytest.fixture
def guest(src: virtkit.Connection, linux_guest_xml: str, tmp_path: Path) -> virtkit.Domain:
    """The Linux guest running on the source, past boot, its counter going."""
    dom = src.define_xml(linux_guest_xml)
    dom.create()
    serial = tmp_path / "serial.log"
    wait_for_serial(serial, lambda d: READY_LINE in d, timeout=BOOT_TIMEOUT, what="boot")
    wait_counters(serial, 2)
    return dom


def wait_counters(serial: Path, count: int) -> list[int]:
    """Wait for ``count`` more counter lines than the log holds now; all its counters."""
    offset = serial.stat().st_size if serial.exists() else 0
    wait_for_serial(
        serial,
        lambda d: d[offset:].count(b"counter ") >= count,
        timeout=BOOT_TIMEOUT,
        what=f"print {count} more counters",
    )
    return serial_counters(serial)


def assert_counting_on(serial: Path) -> None:
    """The guest counted on without restarting: every counter is the one before plus one."""
    counters = wait_counters(serial, 2)
    assert counters == list(range(counters[0], counters[0] + len(counters))), counters


def migrate_in_background(
    dom: virtkit.Domain, dest: virtkit.Connection, params: dict[str, object]
) -> tuple[threading.Thread, dict[str, BaseException]]:
    """Start a slow migration in a thread; return once data flows (the job shows progress)."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            dom.migrate(dest, F.LIVE, params)
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while dom.job_info().data_processed == 0:
        assert worker.is_alive() and time.monotonic() < deadline, f"no transfer: {outcome}"
        time.sleep(0.05)
    return worker, outcome


@pytest.mark.slow
def test_linux_guest_back_and_forth(
    guest: virtkit.Domain, src: virtkit.Connection, dst: virtkit.Connection, tmp_path: Path
) -> None:
    serial = tmp_path / "serial.log"
    dom, conns = guest, (dst, src)
    settings: list[tuple[int, dict[str, object]]] = [
        (F.LIVE, {}),
        (F.LIVE | F.POSTCOPY, {"bandwidth": 50, "max_downtime": 1}),  # switches, most times
        (F.LIVE | F.AUTO_CONVERGE, {"max_downtime": 50, "bandwidth": 500}),
        (F.LIVE, {"migrate_uri": f"unix:{tmp_path}/stream.sock"}),
    ]
    for hop, (flags, params) in enumerate(settings):
        dom = dom.migrate(conns[hop % 2], flags, params)
        assert dom.state()[0] == DomainState.RUNNING
        try:
            assert_counting_on(serial)
        except TimeoutError as exc:  # say which hop left the guest silent, and how it ended
            job = dom.job_info(completed=True)
            hop_was = f"hop {hop} ({F(flags)!r}, {params}), job {job}"
            raise TimeoutError(f"after {hop_was}: {exc}") from exc
    assert src.lookup_by_name("linux").is_active() and dst.list_all_domains() == []


@pytest.mark.slow
def test_destination_killed_mid_transfer(
    guest: virtkit.Domain, dst: virtkit.Connection, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    worker, outcome = migrate_in_background(guest, dst, {"bandwidth": 1})
    [receiver] = qemus_under(roots[1])
    os.kill(receiver, signal.SIGKILL)
    worker.join(60)
    error = outcome.get("error")
    assert isinstance(error, MigrationError), outcome
    assert (error.phase, error.side) == ("perform", "source"), error.message
    assert guest.state()[0] == DomainState.RUNNING
    assert_counting_on(tmp_path / "serial.log")
    assert_clean(roots[1], "linux")


@pytest.mark.slow
def test_abort_job(
    guest: virtkit.Domain, dst: virtkit.Connection, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    worker, outcome = migrate_in_background(guest, dst, {"bandwidth": 1})
    deadline = time.monotonic() + 5
    while not (job := guest.job_info()).stats.get("memory_bps"):  # measured every 100 ms
        assert time.monotonic() < deadline, f"no transfer rate in {job}"
        time.sleep(0.05)
    assert job.operation == "migration_out" and job.type == DomainJobType.UNBOUNDED
    assert job.data_total >= 128 << 20 and 0 < job.data_processed < job.data_total
    assert job.data_remaining > 0 and job.time_elapsed > 0 and "downtime" in job.stats
    assert int(job.stats["memory_bps"]) <= 2 << 20, "the bandwidth limit holds"
    guest.abort_job()
    worker.join(60)
    error = outcome.get("error")
    assert isinstance(error, MigrationError), outcome
    assert (error.phase, error.side, error.code) == (
        "perform",
        "source",
        ErrorCode.OPERATION_ABORTED,
    )
    assert guest.state() == (DomainState.RUNNING, DomainRunningReason.MIGRATION_CANCELED)
    assert guest.job_info(completed=True).type == DomainJobType.CANCELLED
    assert_counting_on(tmp_path / "serial.log")
    assert_clean(roots[1], "linux")
