"""The process capabilities a container keeps: libvirt's
``<features><capabilities policy='default|allow|deny'>`` with ``<NAME state='on|off'/>``.

- ``default``: libvirt's LXC driver drops :data:`DEFAULT_DROPPED`, and what is ``off``;
  what is ``on`` is kept.
- ``allow``: only what is ``off`` is dropped.
- ``deny``: every capability the kernel has is dropped, except what is ``on``.

``sys_boot`` is kept by default: ``reboot(2)`` in a pid namespace only ends that namespace's
init, which is how a container reboots (libvirt keeps it on every kernel that does this).
"""

from __future__ import annotations

CAPABILITY_NUMBERS = {
    "audit_control": 30,
    "audit_write": 29,
    "block_suspend": 36,
    "chown": 0,
    "dac_override": 1,
    "dac_read_search": 2,
    "fowner": 3,
    "fsetid": 4,
    "ipc_lock": 14,
    "ipc_owner": 15,
    "kill": 5,
    "lease": 28,
    "linux_immutable": 9,
    "mac_admin": 33,
    "mac_override": 32,
    "mknod": 27,
    "net_admin": 12,
    "net_bind_service": 10,
    "net_broadcast": 11,
    "net_raw": 13,
    "setgid": 6,
    "setfcap": 31,
    "setpcap": 8,
    "setuid": 7,
    "sys_admin": 21,
    "sys_boot": 22,
    "sys_chroot": 18,
    "sys_module": 16,
    "sys_nice": 23,
    "sys_pacct": 20,
    "sys_ptrace": 19,
    "sys_rawio": 17,
    "sys_resource": 24,
    "sys_time": 25,
    "sys_tty_config": 26,
    "syslog": 34,
    "wake_alarm": 35,
}
"""libvirt's capability element names, in the order it writes them, and their numbers in
``<linux/capability.h>``."""

CAPABILITIES = tuple(CAPABILITY_NUMBERS)

DEFAULT_DROPPED = frozenset({"sys_module", "sys_time", "mknod", "audit_control", "mac_admin"})
"""What libvirt's LXC driver drops under ``policy='default'`` unless the XML turns it ``on``:
no kernel modules, no setting the clock, no device nodes, no audit or LSM configuration."""

POLICIES = ("default", "allow", "deny")


def kernel_capabilities() -> range:
    """Every capability number this kernel knows (``/proc/sys/kernel/cap_last_cap``)."""
    with open("/proc/sys/kernel/cap_last_cap") as fh:
        return range(int(fh.read()) + 1)


def dropped_capabilities(policy: str, states: dict[str, bool]) -> frozenset[int]:
    """The capability numbers a container drops under ``policy`` with ``states`` (libvirt name
    to ``True`` for ``on``, ``False`` for ``off``)."""
    on = {CAPABILITY_NUMBERS[name] for name, state in states.items() if state}
    off = {CAPABILITY_NUMBERS[name] for name, state in states.items() if not state}
    if policy == "deny":
        return frozenset(kernel_capabilities()) - on
    if policy == "default":
        off |= {CAPABILITY_NUMBERS[name] for name in DEFAULT_DROPPED} - on
    return frozenset(off)
