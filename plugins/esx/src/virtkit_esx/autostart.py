"""Autostart: whether the host powers a VM on when it boots, kept by the host's
``HostAutoStartManager`` (read from the host's ``config.autoStart``, changed with
``ReconfigureAutostart``), as libvirt's ESX driver does.

A VM autostarts when host-wide autostart is on and the VM's start action is ``powerOn``;
turning a VM's autostart on switches host-wide autostart on in the same call.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

AUTOSTART: Any = vim.host.AutoStartManager


def autostart_change(vm: Any, enable: bool) -> Any:
    """The incremental ``HostAutoStartManagerConfig`` that makes ``vm`` start with the host, or
    not: its power-on entry (order and delays left to the host), and host-wide autostart
    switched on when enabling (without it no VM's entry has an effect)."""
    entry = AUTOSTART.AutoPowerInfo(
        key=vm,
        startOrder=-1,
        startDelay=-1,
        waitForHeartbeat="systemDefault",
        startAction="powerOn" if enable else "none",
        stopDelay=-1,
        stopAction="systemDefault",
    )
    defaults = AUTOSTART.SystemDefaults(enabled=True) if enable else None
    return AUTOSTART.Config(defaults=defaults, powerInfo=[entry])


def autostarted(config: Any) -> frozenset[str]:
    """The managed object ids of the VMs a host's autostart configuration powers on."""
    if config is None or config.defaults is None or not config.defaults.enabled:
        return frozenset()
    return frozenset(
        entry.key._moId
        for entry in config.powerInfo or []
        if (entry.startAction or "").lower() == "poweron"
    )
