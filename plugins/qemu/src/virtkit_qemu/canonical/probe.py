"""The :class:`QemuCaps` of an installed ``qemu-system`` binary, as the canonical steps use it.

Asks the binary twice (``-machine help``, ``-device help``, ~0.1 s together) and keeps the
answers per process and, given a folder, on disk as libvirt keeps its capabilities cache: a
new process (each ``virtkit define``) reads them instead of running QEMU. Both are keyed by the
binary (path, size, modification time, inode) and the modification times of QEMU's module
folders, so an upgraded QEMU, or one that gained modules (devices), is asked again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from pathlib import Path

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


def probe_caps(emulator: str, cache: Path | None = None) -> QemuCaps:
    """The capabilities of the ``qemu-system`` binary at path ``emulator``, kept per process
    and, when ``cache`` names a folder, in a file there.

    :raises HostSystemError: the binary cannot be run or does not answer.
    """
    try:
        binary = os.stat(emulator)
    except OSError as exc:
        raise HostSystemError(f"cannot read the emulator {emulator}: {exc.strerror}") from exc
    key = (emulator, binary.st_size, binary.st_mtime_ns, binary.st_ino)
    caps = _PROBED.get(key)
    if caps is None:
        identity = (*key[1:], *_module_times(emulator))
        caps = _PROBED[key] = _caps(emulator, _answers(emulator, identity, cache))
    return caps


_PROBED: dict[tuple[str, int, int, int], QemuCaps] = {}
"""The capabilities found by this process, by binary path, size, modification time and inode."""

#: what is asked of QEMU: ``OPTION help`` for each
_OPTIONS = ("-machine", "-device")


def _module_times(emulator: str) -> tuple[int, ...]:
    """The modification times of the folders QEMU loads device modules from, beside the
    binary (``PREFIX/lib/qemu``, ``PREFIX/lib/*/qemu``, ``PREFIX/lib64/qemu``; 0: none):
    installing a module changes what ``-device help`` lists."""
    prefix = Path(os.path.realpath(emulator)).parent.parent
    folders = {*prefix.glob("lib/*/qemu"), prefix / "lib" / "qemu", prefix / "lib64" / "qemu"}
    times = []
    for folder in sorted(folders):
        try:
            times.append(folder.stat().st_mtime_ns)
        except OSError:
            times.append(0)
    return tuple(times)


def _answers(emulator: str, identity: tuple[int, ...], cache: Path | None) -> dict[str, list[str]]:
    """QEMU's lines for each of :data:`_OPTIONS`: from the cache file when it holds this
    binary's with the same ``identity``, else asked of QEMU (and written there)."""
    file = cache / (emulator.strip("/").replace("/", "_") + ".json") if cache else None
    if file is not None:
        try:
            kept = json.loads(file.read_text(encoding="utf-8"))
            if kept["emulator"] == emulator and tuple(kept["identity"]) == identity:
                answers = {option: kept["answers"][option] for option in _OPTIONS}
                if all(
                    isinstance(lines, list) and all(isinstance(line, str) for line in lines)
                    for lines in answers.values()
                ):
                    return answers
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none yet, or unreadable: ask QEMU
    answers = {option: _ask(emulator, option) for option in _OPTIONS}
    if file is not None:
        _keep(file, {"emulator": emulator, "identity": identity, "answers": answers})
    return answers


def _keep(file: Path, data: dict[str, object]) -> None:
    """Write the cache file whole (a new file renamed over the old); a cache that cannot be
    written is only a cache, so the failure is ignored."""
    staged = file.with_name(f".{file.name}.{os.getpid()}")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(json.dumps(data), encoding="utf-8")
        os.replace(staged, file)
    except OSError:
        with contextlib.suppress(OSError):
            staged.unlink(missing_ok=True)


def _caps(emulator: str, answers: dict[str, list[str]]) -> QemuCaps:
    machines = parse_machines(answers["-machine"])
    lines = answers["-device"]
    devices = {m.group(1) for line in lines if (m := _DEVICE_LINE.match(line))}
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
