"""Save, restore and managed save of running firmware guests on real QEMU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import virtkit
from virtkit.constants import (
    DomainCreateFlags,
    DomainJobType,
    DomainPausedReason,
    DomainRunningReason,
    DomainSaveRestoreFlags,
    DomainShutoffReason,
    DomainState,
)
from virtkit.errors import InvalidArgumentError, OperationFailedError
from virtkit.records import Progress
from virtkit.state import state_roots
from virtkit.uri import ConnectURI
from virtkit_qemu.qmp import Monitor
from virtkit_qemu.store import QemuStore


def cpu_registers(conn: virtkit.Connection, name: str) -> str:
    """The vCPU registers of a paused domain, read through its QMP socket."""
    store = QemuStore(state_roots(ConnectURI.parse(conn.get_uri()), "qemu"))
    dom = conn.lookup_by_name(name)
    with Monitor(store.runtime_paths(dom.uuid()).qmp, name=name) as mon:
        return str(mon.human("info registers"))


def test_save_and_restore_bring_back_the_same_guest(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, running_qemus: Any
) -> None:
    dom = conn.define_xml(firmware_xml("saver"))
    dom.create()
    dom.suspend()
    before = cpu_registers(conn, "saver")
    image = qemu_root / "saver.img"
    seen: list[Progress] = []
    dom.save(str(image), progress=seen.append)
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
    assert not running_qemus()
    assert image.stat().st_size > 0 and not Path(f"{image}.part").exists()
    assert seen and seen[-1].processed > 0
    assert dom.job_info(completed=True).type == DomainJobType.COMPLETED
    # the statistics are kept with the host, not in this process: the CLI reads them too
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "virtkit.cli",
            "-c",
            conn.get_uri(),
            "domjobinfo",
            "--completed",
            "saver",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Job type:         Completed" in done.stdout and "Operation:        Save" in done.stdout

    restored: list[Progress] = []
    dom = conn.restore(str(image), progress=restored.append)
    # It was paused when saved: it comes back paused, in the very same CPU state.
    assert dom.state()[0] == DomainState.PAUSED
    assert cpu_registers(conn, "saver") == before
    assert restored and restored[-1].processed == restored[-1].total
    dom.resume()
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.UNPAUSED)
    dom.destroy()
    # an undefined domain takes its job statistics along
    store = QemuStore(state_roots(ConnectURI.parse(conn.get_uri()), "qemu"))
    assert store.completed_job(dom.uuid()).type == DomainJobType.COMPLETED
    dom.undefine()
    assert store.completed_job(dom.uuid()).type == DomainJobType.NONE


def test_running_guest_restores_running(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    dom = conn.define_xml(firmware_xml("runner"))
    dom.create()
    dom.save(str(qemu_root / "runner.img"))
    dom = conn.restore(str(qemu_root / "runner.img"))
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.RESTORED)
    dom.destroy()
    dom = conn.restore(str(qemu_root / "runner.img"), flags=DomainSaveRestoreFlags.PAUSED)
    assert dom.state()[0] == DomainState.PAUSED
    dom.destroy()


def test_failed_save_leaves_the_domain_running(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path
) -> None:
    dom = conn.define_xml(firmware_xml("stayer"))
    dom.create()
    with pytest.raises(OperationFailedError, match="no-such-folder"):
        dom.save(str(qemu_root / "no-such-folder" / "x.img"))
    assert dom.state()[0] == DomainState.RUNNING
    dom.destroy()


def test_restore_refuses_a_file_that_is_not_an_image(
    conn: virtkit.Connection, qemu_root: Path, running_qemus: Any
) -> None:
    bogus = qemu_root / "bogus.img"
    bogus.write_bytes(b"not a save image at all")
    with pytest.raises(InvalidArgumentError, match="not a virtkit QEMU save image"):
        conn.restore(str(bogus))
    assert conn.list_all_domains() == [] and not running_qemus()


def test_restore_of_a_truncated_stream_leaves_nothing(
    conn: virtkit.Connection, firmware_xml: Any, qemu_root: Path, running_qemus: Any
) -> None:
    dom = conn.define_xml(firmware_xml("cut"))
    dom.create()
    image = qemu_root / "cut.img"
    dom.save(str(image))
    with open(image, "r+b") as fh:
        fh.truncate(image.stat().st_size // 2)
    with pytest.raises(OperationFailedError, match="cut"):
        conn.restore(str(image))
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
    assert not running_qemus()


def test_managed_save_and_start_resumes(
    conn: virtkit.Connection, firmware_xml: Any, running_qemus: Any
) -> None:
    dom = conn.define_xml(firmware_xml("managed"))
    dom.create()
    dom.suspend()  # paused, so the registers are comparable after the restore
    before = cpu_registers(conn, "managed")
    dom.managed_save()
    assert dom.has_managed_save_image()
    assert dom.state() == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
    dom.create()
    assert not dom.has_managed_save_image()
    assert dom.state() == (DomainState.PAUSED, DomainPausedReason.USER)
    assert cpu_registers(conn, "managed") == before
    dom.destroy()

    dom.create()
    dom.managed_save()
    dom.create(DomainCreateFlags.START_FORCE_BOOT)
    assert dom.state() == (DomainState.RUNNING, DomainRunningReason.BOOTED)
    assert not dom.has_managed_save_image()
    dom.destroy()
    assert not running_qemus()
