"""The order of the Hyper-V driver's WMI requests, and what it does at a timeout.

No Hyper-V host runs here: :class:`ScriptedClient` stands in for the WinRM client, answering
the driver's WQL queries for one VM and recording each method it invokes. These tests pin the
driver's own logic (checks before changes, the shutdown timeout), not Hyper-V's behaviour.
"""

from __future__ import annotations

import time
import uuid as uuidlib

import pytest
from virtkit.constants import DomainCreateFlags
from virtkit.errors import (
    InvalidArgumentError,
    NoSnapshotError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)
from virtkit.records import DomainRef
from virtkit.xml import parse_snapshot
from virtkit_hyperv import driver as driver_module
from virtkit_hyperv import mapping
from virtkit_hyperv.driver import HyperVDriver
from virtkit_hyperv.wsman import Instance, Param, Reference

GUID = "6B7A2C1E-0000-4000-8000-000000000001"
DOM = DomainRef(name="web", uuid=uuidlib.UUID(GUID))
SNAPSHOT_XML = "<domainsnapshot><name>before-update</name></domainsnapshot>"


class ScriptedClient:
    """Answers the driver's queries for one VM; records ``(method, requested state)``."""

    def __init__(self, enabled_state: int, ignores_shutdown: bool = False) -> None:
        self.vm: Instance = {"Name": GUID, "ElementName": "web", "EnabledState": str(enabled_state)}
        self.ignores_shutdown = ignores_shutdown
        self.fail: dict[str, VirtError] = {}
        self.calls: list[tuple[str, object]] = []

    def query(self, wql: str) -> list[Instance]:
        if "FROM Msvm_ComputerSystem" in wql:
            return [dict(self.vm)]
        if "FROM Msvm_ShutdownComponent" in wql:
            return [{"CreationClassName": "Msvm_ShutdownComponent", "SystemName": GUID}]
        if "FROM Msvm_VirtualSystemSettingData" in wql:
            return [{"ElementName": "base", "InstanceID": "Microsoft:snap-1"}]
        if "FROM Msvm_VirtualSystem" in wql and "Service" in wql:
            return [{"Name": wql.rsplit(" ", 1)[-1]}]
        raise AssertionError(f"unexpected query {wql}")

    def invoke(self, target: Reference, method: str, params: list[tuple[str, Param]]) -> Instance:
        values = dict(params)
        self.calls.append((method, values.get("RequestedState")))
        if method in self.fail:
            raise self.fail[method]
        if method == "CreateSnapshot":
            made = Reference("Msvm_VirtualSystemSettingData", {"InstanceID": "Microsoft:new"})
            return {"ResultingSnapshot": made}
        if method == "RequestStateChange":
            self.vm["EnabledState"] = str(values["RequestedState"])
        elif method == "InitiateShutdown" and not self.ignores_shutdown:
            self.vm["EnabledState"] = str(mapping.REQUEST_OFF)
        return {}


def driver_with(client: ScriptedClient) -> HyperVDriver:
    driver = object.__new__(HyperVDriver)  # no host: only the WinRM client is replaced
    driver.client = client  # type: ignore[assignment]
    return driver


def test_start_of_a_running_vm_applies_no_snapshot() -> None:
    client = ScriptedClient(enabled_state=2)
    with pytest.raises(OperationInvalidError, match="cannot start 'web': it is already running"):
        driver_with(client).virtkit_domain_start(DOM, 0, "base")
    assert client.calls == []


def test_start_from_a_missing_snapshot_changes_nothing() -> None:
    client = ScriptedClient(enabled_state=3)
    with pytest.raises(NoSnapshotError, match="'web' has no snapshot 'gone'"):
        driver_with(client).virtkit_domain_start(DOM, 0, "gone")
    assert client.calls == []


def test_start_from_a_snapshot_applies_it_then_starts() -> None:
    client = ScriptedClient(enabled_state=3)
    driver_with(client).virtkit_domain_start(DOM, 0, "base")
    assert client.calls == [("ApplySnapshot", None), ("RequestStateChange", 2)]


def test_start_paused_is_refused_before_anything_runs() -> None:
    client = ScriptedClient(enabled_state=3)
    with pytest.raises(InvalidArgumentError, match="cannot start 'web' paused"):
        driver_with(client).virtkit_domain_start(DOM, DomainCreateFlags.START_PAUSED, None)
    assert client.calls == []


def test_force_boot_turns_a_saved_vm_off_first() -> None:
    client = ScriptedClient(enabled_state=mapping.REQUEST_SAVED)
    driver_with(client).virtkit_domain_start(DOM, DomainCreateFlags.START_FORCE_BOOT, None)
    assert client.calls == [("RequestStateChange", 3), ("RequestStateChange", 2)]


def test_shutdown_with_timeout_powers_off_a_guest_that_ignores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(driver_module, "POLL_SECONDS", 0.01)
    client = ScriptedClient(enabled_state=2, ignores_shutdown=True)
    driver_with(client).virtkit_domain_shutdown(DOM, 0, 0.05)
    assert client.calls == [("InitiateShutdown", None), ("RequestStateChange", 3)]


def test_shutdown_with_timeout_of_a_willing_guest_needs_no_power_off() -> None:
    client = ScriptedClient(enabled_state=2)
    driver_with(client).virtkit_domain_shutdown(DOM, 0, 5)
    assert client.calls == [("InitiateShutdown", None)]


def test_cim_times_do_not_depend_on_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from virtkit_hyperv.driver import cim_seconds

    monkeypatch.setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")  # summer time on 1 July
    time.tzset()
    try:
        assert cim_seconds("20240701140000.000000+120") == 1719835200  # 12:00 UTC
        assert cim_seconds("20240115083000.000000+000") == 1705307400
        assert cim_seconds("20240115033000.000000-300") == 1705307400
        assert cim_seconds("") == 0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_snapshot_that_cannot_be_named_is_removed() -> None:
    client = ScriptedClient(enabled_state=2)
    client.fail["ModifySystemSettings"] = OperationFailedError("job failed: access denied")
    with pytest.raises(OperationFailedError, match="access denied"):
        driver_with(client).virtkit_snapshot_create(DOM, parse_snapshot(SNAPSHOT_XML))
    assert client.calls == [
        ("CreateSnapshot", None),
        ("ModifySystemSettings", None),
        ("DestroySnapshot", None),
    ]


def test_a_snapshot_left_behind_is_reported_with_both_errors() -> None:
    client = ScriptedClient(enabled_state=2)
    client.fail["ModifySystemSettings"] = OperationFailedError("job failed: access denied")
    client.fail["DestroySnapshot"] = OperationFailedError("job failed: host busy")
    with pytest.raises(OperationFailedError) as caught:
        driver_with(client).virtkit_snapshot_create(DOM, parse_snapshot(SNAPSHOT_XML))
    assert caught.value.message == (
        "naming the new snapshot 'before-update' of 'web' failed (job failed: access denied) "
        "and the snapshot Hyper-V made could not be removed: job failed: host busy"
    )
