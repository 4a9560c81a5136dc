"""The order of the driver's VBoxManage steps, and what it does when one fails.

No VirtualBox runs here: :class:`ScriptedManage` stands in for the ``VBoxManage`` program
(the driver's command-runner seam), answering ``showvminfo``/``snapshot list`` in the
machine-readable text the VirtualBox manual documents for a hand-written machine, and recording
every command. These tests pin the driver's own logic (checks before changes, the shutdown
timeout, the rollback of a failed revert), not VirtualBox's behaviour.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from pathlib import Path

import pytest
from virtkit.constants import DomainCreateFlags, DomainSnapshotRevertFlags, DomainState
from virtkit.errors import (
    InvalidArgumentError,
    NoSnapshotError,
    OperationFailedError,
    VirtError,
)
from virtkit.records import DomainRef
from virtkit.xml import parse_snapshot
from virtkit_vbox import driver as driver_module
from virtkit_vbox.driver import VBoxDriver, epoch_seconds
from virtkit_vbox.manage import VBoxManage, error_for
from virtkit_vbox.snapshots import TEMPORARY_PREFIX
from virtkit_vbox.states import is_active

UUID = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
DOM = DomainRef(name="web", uuid=uuidlib.UUID(UUID))
SETTINGS = f"""<VirtualBox xmlns="http://www.innotek.de/VirtualBox-settings" version="1.12">
<Machine name="web" uuid="{{{UUID}}}" OSType="Other" currentSnapshot="{{u1}}"
         lastStateChange="2024-07-01T12:00:00Z">
  <Snapshot uuid="{{u0}}" name="base" timeStamp="2024-07-01T12:00:00Z"
            stateFile="Snapshots/base.sav">
    <Snapshots>
      <Snapshot uuid="{{u1}}" name="updated" timeStamp="2024-01-15T08:30:00Z"/>
    </Snapshots>
  </Snapshot>
</Machine>
</VirtualBox>
"""
"""The machine's ``.vbox`` file: 'base' was taken online (with a saved state), 'updated' not."""


SNAPSHOT_UUIDS = {"base": "u0", "updated": "u1"}


class ScriptedManage(VBoxManage):
    """Answers like ``VBoxManage`` for one machine, in the ``--machinereadable`` text its manual
    documents; records every command but the queries. Snapshots: take, restore (an online one
    leaves the machine saved) and delete (the parent of a deleted current snapshot becomes
    current), as the VirtualBox manual describes them; a running machine cannot be restored or
    started. ``fail`` maps a command to what its
    next runs do, one each: raise the error, or work (``None``)."""

    def __init__(
        self, vm_state: str, stays_running: bool = False, settings: Path | None = None
    ) -> None:
        super().__init__(program="VBoxManage")  # never run: run() answers instead
        self.state = vm_state
        self.settings = settings
        self.stays_running = stays_running
        self.tree: dict[str, tuple[str | None, bool]] = {  # name -> (parent, taken online)
            "base": (None, True),
            "updated": ("base", False),
        }
        self.current: str | None = "updated"
        self.fail: dict[str, list[VirtError | None]] = {}
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str) -> str:
        if args[0] == "showvminfo":
            return self._showvminfo()
        if args[:1] == ("snapshot",) and args[2] == "list":
            return self._snapshot_lines()
        self.calls.append(args)
        command = args[2] if args[0] in ("controlvm", "snapshot") else args[0]
        if self.fail.get(command) and (error := self.fail[command].pop(0)) is not None:
            raise error
        if command in ("restore", "startvm") and is_active(self.state):
            raise error_for(args, 1, "VBoxManage: error: Details: code VBOX_E_INVALID_VM_STATE")
        if command == "take":
            self.tree[args[3]] = (self.current, "--live" in args)
            self.current = args[3]
        elif command == "restore":
            self.current = args[3]
            self.state = "saved" if self.tree[args[3]][1] else "poweroff"
        elif command == "delete":
            parent = self.tree.pop(args[3])[0]
            if self.current == args[3]:
                self.current = parent
        elif command == "poweroff" or (command == "acpipowerbutton" and not self.stays_running):
            self.state = "poweroff"
        elif command == "startvm":
            self.state = "running"
        elif command == "pause":
            self.state = "paused"
        return ""

    def _showvminfo(self) -> str:
        lines = ['name="web"', f'UUID="{UUID}"', f'VMState="{self.state}"', "memory=1024"]
        if self.settings is not None:
            lines.append(f'CfgFile="{self.settings}"')
        return "\n".join(lines) + "\n" + self._snapshot_lines()

    def _snapshot_lines(self) -> str:
        lines: list[str] = []

        def node(name: str, suffix: str) -> None:
            uuid = SNAPSHOT_UUIDS.get(name, f"u-{name}")
            lines.extend([f'SnapshotName{suffix}="{name}"', f'SnapshotUUID{suffix}="{uuid}"'])
            if name == self.current:
                lines.extend([f'CurrentSnapshotName="{name}"', f'CurrentSnapshotUUID="{uuid}"'])
            children = [n for n, (parent, _) in self.tree.items() if parent == name]
            for number, child in enumerate(children, 1):
                node(child, f"{suffix}-{number}")

        node("base", "")
        return "\n".join(lines) + "\n"

    def temporary(self) -> list[str]:
        """The names of virtkit's temporary snapshots the machine still has."""
        return [n for n in self.tree if n.startswith(TEMPORARY_PREFIX)]


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    path = tmp_path / "web.vbox"
    path.write_text(SETTINGS)
    return path


DESCRIPTION_START = (
    "made by virtkit while starting 'web' from snapshot 'base'; removed when that ends"
)


def revert_description(target: str) -> str:
    return f"made by virtkit while reverting 'web' to snapshot '{target}'; removed when that ends"


def temporary_name(manage: ScriptedManage) -> str:
    """The name of the temporary snapshot the driver took (its first command)."""
    take = manage.calls[0]
    assert take[2] == "take" and take[3].startswith(TEMPORARY_PREFIX), take
    return take[3]


def driver_with(manage: ScriptedManage) -> VBoxDriver:
    driver = object.__new__(VBoxDriver)  # no VirtualBox: only VBoxManage is replaced
    driver.manage = manage  # type: ignore[assignment]
    return driver


def test_start_from_a_missing_snapshot_changes_nothing() -> None:
    manage = ScriptedManage("poweroff")
    with pytest.raises(NoSnapshotError, match="'web' has no snapshot 'gone'"):
        driver_with(manage).virtkit_domain_start(DOM, 0, "gone")
    assert manage.calls == []


def test_a_failed_start_from_a_snapshot_puts_the_machine_back(settings: Path) -> None:
    manage = ScriptedManage("poweroff", settings=settings)
    manage.fail["startvm"] = [OperationFailedError("VBoxManage startvm failed: no VT-x")]
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_domain_start(DOM, 0, "base")
    assert caught.value.message == (
        "starting 'web' from snapshot 'base' failed, and 'web' was put back as it was: "
        "VBoxManage startvm failed: no VT-x"
    )
    keep = temporary_name(manage)
    assert manage.calls == [
        ("snapshot", UUID, "take", keep, "--description", DESCRIPTION_START),  # offline
        ("snapshot", UUID, "restore", "base"),
        ("startvm", UUID, "--type", "headless"),
        ("snapshot", UUID, "restore", keep),
        ("snapshot", UUID, "delete", keep),
    ]
    assert (manage.state, manage.current, manage.temporary()) == ("poweroff", "updated", [])


def test_a_failed_plain_start_keeps_virtualbox_error() -> None:
    manage = ScriptedManage("poweroff")
    error = OperationFailedError("VBoxManage startvm failed: no VT-x")
    manage.fail["startvm"] = [error]
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_domain_start(DOM, 0, None)
    assert caught.value is error


def test_start_paused_is_refused_before_anything_runs() -> None:
    manage = ScriptedManage("poweroff")
    with pytest.raises(InvalidArgumentError, match="cannot start 'web' paused"):
        driver_with(manage).virtkit_domain_start(DOM, DomainCreateFlags.START_PAUSED, None)
    assert manage.calls == []


def test_force_boot_discards_a_saved_state_first() -> None:
    manage = ScriptedManage("saved")
    driver_with(manage).virtkit_domain_start(DOM, DomainCreateFlags.START_FORCE_BOOT, None)
    assert manage.calls == [("discardstate", UUID), ("startvm", UUID, "--type", "headless")]


def test_a_plain_start_resumes_a_saved_state() -> None:
    manage = ScriptedManage("saved")
    driver_with(manage).virtkit_domain_start(DOM, 0, None)
    assert manage.calls == [("startvm", UUID, "--type", "headless")]


def test_shutdown_with_timeout_powers_off_a_guest_that_ignores_acpi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver_module, "POLL_SECONDS", 0.01)
    manage = ScriptedManage("running", stays_running=True)
    driver_with(manage).virtkit_domain_shutdown(DOM, 0, 0.05)
    assert manage.calls == [
        ("controlvm", UUID, "acpipowerbutton"),
        ("controlvm", UUID, "poweroff"),
    ]
    assert driver_with(manage).virtkit_domain_get_info(DOM).state == DomainState.SHUTOFF


def test_shutdown_with_timeout_of_a_willing_guest_needs_no_power_off() -> None:
    manage = ScriptedManage("running")
    driver_with(manage).virtkit_domain_shutdown(DOM, 0, 5)
    assert manage.calls == [("controlvm", UUID, "acpipowerbutton")]


def test_snapshot_states_and_times_come_from_the_settings_file(settings: Path) -> None:
    records = driver_with(ScriptedManage("poweroff", settings=settings)).virtkit_snapshot_list(DOM)
    assert [(r.name, r.parent, r.state, r.creation_time, r.is_current) for r in records] == [
        ("base", None, "running", 1719835200, False),
        ("updated", "base", "shutoff", 1705307400, True),
    ]


def test_revert_to_an_online_snapshot_runs_the_machine_again(settings: Path) -> None:
    manage = ScriptedManage("poweroff", settings=settings)
    driver_with(manage).virtkit_snapshot_revert(DOM, "base", 0)
    keep = temporary_name(manage)
    assert manage.calls == [
        ("snapshot", UUID, "take", keep, "--description", revert_description("base")),
        ("snapshot", UUID, "restore", "base"),
        ("startvm", UUID, "--type", "headless"),
        ("snapshot", UUID, "delete", keep),
    ]
    assert (manage.state, manage.current, manage.temporary()) == ("running", "base", [])


def test_revert_to_an_offline_snapshot_leaves_the_machine_off(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    driver_with(manage).virtkit_snapshot_revert(DOM, "updated", 0)
    keep = temporary_name(manage)
    assert manage.calls == [
        ("snapshot", UUID, "take", keep, "--description", revert_description("updated"), "--live"),
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", "updated"),
        ("snapshot", UUID, "delete", keep),
    ]
    assert (manage.state, manage.current, manage.temporary()) == ("poweroff", "updated", [])


def test_revert_paused_starts_then_pauses(settings: Path) -> None:
    manage = ScriptedManage("poweroff", settings=settings)
    driver_with(manage).virtkit_snapshot_revert(DOM, "updated", DomainSnapshotRevertFlags.PAUSED)
    assert [c[:3] for c in manage.calls[1:]] == [
        ("snapshot", UUID, "restore"),
        ("startvm", UUID, "--type"),
        ("controlvm", UUID, "pause"),
        ("snapshot", UUID, "delete"),
    ]
    assert manage.state == "paused" and manage.temporary() == []


def test_a_revert_whose_start_fails_brings_back_the_running_machine(settings: Path) -> None:
    """The state the revert discarded comes back from the temporary snapshot (taken live, so
    it is restored saved, with its memory), the snapshot current before is current again, and
    the machine runs again."""
    manage = ScriptedManage("running", settings=settings)
    manage.fail["startvm"] = [OperationFailedError("VBoxManage startvm failed: locked")]
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_snapshot_revert(
            DOM, "updated", DomainSnapshotRevertFlags.RUNNING
        )
    assert caught.value.message == (
        "reverting 'web' to snapshot 'updated' failed, and 'web' was put back as it was: "
        "VBoxManage startvm failed: locked"
    )
    keep = temporary_name(manage)
    assert manage.calls == [
        ("snapshot", UUID, "take", keep, "--description", revert_description("updated"), "--live"),
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", "updated"),
        ("startvm", UUID, "--type", "headless"),  # fails
        ("snapshot", UUID, "restore", keep),
        ("snapshot", UUID, "delete", keep),
        ("startvm", UUID, "--type", "headless"),  # resumes the saved state
    ]
    assert (manage.state, manage.current, manage.temporary()) == ("running", "updated", [])


def test_a_failed_pause_after_a_revert_is_rolled_back_from_the_running_machine(
    settings: Path,
) -> None:
    manage = ScriptedManage("paused", settings=settings)
    manage.fail["pause"] = [OperationFailedError("VBoxManage controlvm failed: busy")]
    with pytest.raises(OperationFailedError, match="put back as it was: .*busy"):
        driver_with(manage).virtkit_snapshot_revert(DOM, "base", DomainSnapshotRevertFlags.PAUSED)
    keep = temporary_name(manage)
    assert [c[:4] for c in manage.calls[1:]] == [
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", "base"),
        ("startvm", UUID, "--type", "headless"),
        ("controlvm", UUID, "pause"),  # fails: the machine runs at 'base'
        ("controlvm", UUID, "poweroff"),
        ("snapshot", UUID, "restore", keep),
        ("snapshot", UUID, "delete", keep),
        ("startvm", UUID, "--type", "headless"),
        ("controlvm", UUID, "pause"),  # it was paused
    ]
    assert (manage.state, manage.current, manage.temporary()) == ("paused", "updated", [])


def test_a_failed_rollback_names_the_temporary_snapshot(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    manage.fail["startvm"] = [OperationFailedError("VBoxManage startvm failed: locked")]
    manage.fail["restore"] = [  # the target's restore works, the rollback's does not
        None,
        OperationFailedError("VBoxManage snapshot restore failed: disk full"),
    ]
    driver = driver_with(manage)
    with pytest.raises(OperationFailedError) as caught:
        driver.virtkit_snapshot_revert(DOM, "updated", DomainSnapshotRevertFlags.RUNNING)
    keep = temporary_name(manage)
    assert caught.value.message == (
        "reverting 'web' to snapshot 'updated' failed (VBoxManage startvm failed: locked), and "
        "putting 'web' back as it was failed too (VBoxManage snapshot restore failed: disk "
        f"full): its earlier state is in the temporary snapshot '{keep}'; 'VBoxManage snapshot "
        f"{UUID} restore {keep}' brings it back, 'VBoxManage snapshot {UUID} delete {keep}' "
        "then removes the snapshot"
    )
    assert manage.calls[-1] == ("snapshot", UUID, "restore", keep)
    assert manage.temporary() == [keep]  # kept for the user to recover from
    listed = driver.virtkit_snapshot_list(DOM)
    assert [r.name for r in listed] == ["base", "updated"]  # the temporary one never shows
    assert driver.virtkit_connect_lookup_domain(None, DOM.uuid, None).snapshot_count == 2


def test_a_rollback_whose_restart_fails_says_the_state_is_back(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    manage.fail["startvm"] = [
        OperationFailedError("VBoxManage startvm failed: no VT-x"),
        OperationFailedError("VBoxManage startvm failed: no VT-x"),
    ]
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_snapshot_revert(
            DOM, "updated", DomainSnapshotRevertFlags.RUNNING
        )
    assert caught.value.message == (
        "reverting 'web' to snapshot 'updated' failed (VBoxManage startvm failed: no VT-x); "
        "'web' has its earlier state and current snapshot back, but starting it again failed "
        "(VBoxManage startvm failed: no VT-x): it is saved with its memory and resumes when "
        "started"
    )
    assert (manage.state, manage.current, manage.temporary()) == ("saved", "updated", [])


def test_a_temporary_snapshot_that_cannot_be_taken_changes_nothing(settings: Path) -> None:
    manage = ScriptedManage("running", settings=settings)
    error = OperationFailedError("VBoxManage snapshot take failed: disk full")
    manage.fail["take"] = [error]
    with pytest.raises(OperationFailedError) as caught:
        driver_with(manage).virtkit_snapshot_revert(DOM, "base", 0)
    assert caught.value is error
    assert len(manage.calls) == 1 and manage.state == "running" and manage.current == "updated"


def test_a_leftover_after_a_successful_revert_is_a_warning(
    settings: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manage = ScriptedManage("poweroff", settings=settings)
    manage.fail["delete"] = [OperationFailedError("VBoxManage snapshot delete failed: busy")]
    with caplog.at_level(logging.WARNING, logger="virtkit_vbox.revert"):
        driver_with(manage).virtkit_snapshot_revert(DOM, "updated", 0)
    keep = temporary_name(manage)
    assert manage.current == "updated" and manage.temporary() == [keep]
    assert f"'VBoxManage snapshot {UUID} delete {keep}' removes it" in caplog.text


def test_temporary_snapshot_names_are_refused() -> None:
    manage = ScriptedManage("poweroff")
    name = f"{TEMPORARY_PREFIX}mine"
    with pytest.raises(InvalidArgumentError, match=f"choose another than '{name}'"):
        driver_with(manage).virtkit_snapshot_create(
            DOM, parse_snapshot(f"<domainsnapshot><name>{name}</name></domainsnapshot>"), 0
        )
    assert manage.calls == []


def test_settings_times_are_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # summer time on 1 July
    time.tzset()
    try:
        assert epoch_seconds("2024-07-01T12:00:00Z") == 1719835200
        assert epoch_seconds("2024-01-15T08:30:00Z") == 1705307400
        assert epoch_seconds("yesterday") == 0
    finally:
        monkeypatch.undo()
        time.tzset()
