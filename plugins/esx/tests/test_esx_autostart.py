"""Autostart on ESX: read from the host's autostart configuration, changed through its
HostAutoStartManager. vcsim keeps the configuration (empty, host-wide autostart off) but has no
HostAutoStartManager object to change it, so a change is checked here as far as vcsim goes: the
request virtkit builds, and vSphere's refusal reported with vSphere's words, changing nothing."""

from __future__ import annotations

import pytest
import virtkit
from pyVmomi import vim
from virtkit.constants import ConnectListAllDomainsFlags as ListFlags
from virtkit.errors import OperationFailedError
from virtkit_esx.autostart import autostart_change, autostarted

AUTOSTART = vim.host.AutoStartManager


def test_enabling_also_switches_host_wide_autostart_on() -> None:
    vm = vim.VirtualMachine("vm-42")
    on = autostart_change(vm, True)
    assert on.defaults.enabled is True
    [entry] = on.powerInfo
    assert entry.key._moId == "vm-42" and entry.startAction == "powerOn"
    assert (entry.startOrder, entry.startDelay, entry.stopDelay) == (-1, -1, -1)
    off = autostart_change(vm, False)
    assert off.defaults is None  # other VMs keep starting with the host
    assert off.powerInfo[0].startAction == "none"


def test_a_vm_autostarts_only_with_host_wide_autostart_on() -> None:
    entries = [
        AUTOSTART.AutoPowerInfo(key=vim.VirtualMachine(moid), startAction=action)
        for moid, action in (("vm-1", "PowerOn"), ("vm-2", "none"), ("vm-3", "powerOn"))
    ]
    config = AUTOSTART.Config(defaults=AUTOSTART.SystemDefaults(enabled=True), powerInfo=entries)
    assert autostarted(config) == {"vm-1", "vm-3"}
    config.defaults.enabled = False
    assert autostarted(config) == frozenset()
    assert autostarted(None) == frozenset()


def test_autostart_read_from_vcsim_and_a_refused_change_changes_nothing(esx_uri: str) -> None:
    with virtkit.open(esx_uri) as conn:
        doms = conn.list_all_domains()
        assert doms and not any(d.autostart() for d in doms)
        assert conn.list_all_domains(ListFlags.AUTOSTART) == []
        dom = doms[0]
        with pytest.raises(OperationFailedError) as info:
            dom.set_autostart(True)
        message = info.value.message
        assert f"setting autostart of domain '{dom.name()}' failed" in message
        assert "vSphere said ManagedObjectNotFound" in message
        assert not dom.autostart()
