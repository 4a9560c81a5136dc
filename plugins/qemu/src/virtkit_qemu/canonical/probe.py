"""The :class:`QemuCaps` of an installed ``qemu-system`` binary, as the canonical steps use it.

Asks the binary twice (``-machine help``, ``-device help``, ~0.1 s together) and keeps the
answer per binary path and modification time, so an upgraded QEMU is asked again.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess

from virtkit.errors import HostSystemError

from virtkit_qemu.canonical.caps import FLAG_NAMES, Machine, QemuCaps

#: QEMU device names whose capability flag is spelt otherwise (the rest are spelt alike)
_DEVICE_FLAGS = {"lsi53c895a": "lsi", "virtio-net-pci": "virtio-net"}
_FLAGS = frozenset(FLAG_NAMES.values())
#: answered by properties rather than devices; true of every QEMU this driver can run
#: (it needs -blockdev, QEMU 4.2 or later)
_ALWAYS = frozenset({"cpu.migratable"})
_MACHINE_LINE = re.compile(r"^(\S+)\s+(.*)$")
_ALIAS = re.compile(r"\(alias of (\S+)\)")
_DEVICE_LINE = re.compile(r'^name "([^"]+)"')


def probe_caps(emulator: str) -> QemuCaps:
    """The capabilities of the ``qemu-system`` binary at path ``emulator`` (cached).

    :raises HostSystemError: the binary cannot be run or does not answer.
    """
    try:
        mtime = os.stat(emulator).st_mtime_ns
    except OSError as exc:
        raise HostSystemError(f"cannot read the emulator {emulator}: {exc.strerror}") from exc
    return _probe(emulator, mtime)


@functools.lru_cache(maxsize=8)
def _probe(emulator: str, mtime: int) -> QemuCaps:
    machines = parse_machines(_ask(emulator, "-machine"))
    devices = {m.group(1) for line in _ask(emulator, "-device") if (m := _DEVICE_LINE.match(line))}
    flags = {_DEVICE_FLAGS.get(name, name) for name in devices} & _FLAGS
    return QemuCaps(arch=_arch(emulator), flags=frozenset(flags) | _ALWAYS, machines=machines)


def parse_machines(lines: list[str]) -> tuple[Machine, ...]:
    """``-machine help`` output as machine types, each once per accelerator (KVM and TCG
    offer the same machines); an alias (``pc``) is recorded on the type it stands for."""
    aliases: dict[str, str] = {}
    names: list[tuple[str, bool]] = []
    for line in lines[1:]:  # "Supported machines are:"
        match = _MACHINE_LINE.match(line.strip())
        if not match:
            continue
        name, rest = match.groups()
        alias_of = _ALIAS.search(rest)
        if alias_of:
            aliases[alias_of.group(1)] = name
        else:
            names.append((name, "(default)" in rest))
    return tuple(
        Machine(name=name, alias=aliases.get(name), default=default, accel=accel)
        for accel in ("kvm", "tcg")
        for name, default in names
    )


def _ask(emulator: str, option: str) -> list[str]:
    try:
        done = subprocess.run(
            [emulator, option, "help"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise HostSystemError(f"cannot ask {emulator} for its {option} types: {exc}") from exc
    return done.stdout.splitlines()


def _arch(emulator: str) -> str:
    """``x86_64`` for ``qemu-system-x86_64``."""
    return os.path.basename(emulator).removeprefix("qemu-system-") or "x86_64"
