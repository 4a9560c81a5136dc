"""A small real Linux guest, built from Debian packages, for tests and the README.

The guest is Debian's kernel plus a busybox-static initramfs whose ``/init``:

- loads the virtio, ACPI power button and evdev modules (in dependency order),
- holds the port of QEMU's guest agent channel (``org.qemu.guest_agent.0``) open when the
  domain has one, as a running agent does (it answers nothing: no agent runs),
- starts busybox ``acpid`` holding the power button's event device open, then prints
  ``acpid ready`` (a power-button press after that line powers the guest off),
- prints ``counter N`` on the serial console every :data:`COUNTER_PERIOD` seconds and, when a
  virtio disk ``/dev/vda`` is present, writes the same line into its first sector and flushes
  the disk (so the host sees it in the image at once).

So tests can see guest memory (the serial counter) and disk content (:func:`read_disk_counter`)
go back when a snapshot is reverted. Nothing is installed: packages are fetched with
``apt-get download`` and unpacked with ``dpkg-deb -x``; the initramfs is written by this module
(newc cpio), so no root is needed. Built guests are cached in ``$VIRTKIT_GUEST_CACHE`` (default
``~/.cache/virtkit/guest``), keyed by the package versions and a hash of this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

KERNEL_META_PACKAGE = "linux-image-amd64"
BUSYBOX_PACKAGE = "busybox-static"
MODULES = ("virtio_pci", "virtio_blk", "virtio_console", "evdev", "button")
"""Modules the guest loads; their dependencies are found from each module's ``depends=``."""
COUNTER_PERIOD = 0.25
CMDLINE = "console=ttyS0 quiet panic=-1"
COUNTER_RE = re.compile(rb"counter (\d+)")
READY_LINE = b"acpid ready"

_INIT = """#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /var/log /var/run
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko; done
if grep -qs 0x0002 /sys/bus/virtio/devices/*/device; then
    until [ -b /dev/vda ]; do sleep 0.05; done
fi
if grep -qs 0x0003 /sys/bus/virtio/devices/*/device; then
    n=0  # the ports appear once the host has announced them; a bus may have none
    until ls /sys/class/virtio-ports/*/name >/dev/null 2>&1 || [ $n -ge 40 ]; do
        sleep 0.05; n=$((n + 1))
    done
    for port in /sys/class/virtio-ports/*; do
        if [ "$(cat $port/name)" = org.qemu.guest_agent.0 ]; then exec 3<>/dev/${port##*/}; fi
    done
fi
acpid -f -c /etc/acpi &
acpid_pid=$!
until ls -l /proc/$acpid_pid/fd 2>/dev/null | grep -q /dev/input/event; do sleep 0.05; done
echo "acpid ready"
i=0
while true; do
    echo "counter $i"
    if [ -b /dev/vda ]; then
        echo "counter $i" | dd of=/dev/vda bs=512 count=1 conv=sync,notrunc,fsync 2>/dev/null
    fi
    i=$((i + 1))
    sleep {period}
done
"""

_POWER_BUTTON_ACTION = """#!/bin/sh
sync
poweroff -f
"""


class GuestBuildError(RuntimeError):
    """The guest could not be built; the message says which step and why."""


@attrs.frozen(kw_only=True)
class GuestImage:
    """A built guest: boot it with ``kernel``, ``initrd`` and ``cmdline`` (direct kernel boot)."""

    kernel: Path
    initrd: Path
    cmdline: str = CMDLINE
    kernel_version: str


def cache_root() -> Path:
    """Where built guests are kept: ``$VIRTKIT_GUEST_CACHE`` or ``~/.cache/virtkit/guest``."""
    env = os.environ.get("VIRTKIT_GUEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "virtkit" / "guest"


def build_guest(cache: Path | None = None) -> GuestImage:
    """Return the cached guest, building it first if needed (a few seconds, once).

    Safe to call from several processes at once: the build is locked and published atomically.
    :raises GuestBuildError: apt-get or dpkg-deb is missing or failed.
    """
    root = cache or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    kernel_package = _kernel_package()
    key = "-".join(
        [
            kernel_package.removeprefix("linux-image-"),
            _candidate_version(kernel_package),
            _candidate_version(BUSYBOX_PACKAGE).replace(":", "_"),
            hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12],
        ]
    )
    final = root / key
    with _locked(root / ".lock"):
        if not (final / "initrd.img").is_file():
            with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as tmp:
                staged = Path(tmp) / "guest"
                _build(Path(tmp), staged, kernel_package)
                os.rename(staged, final)
    return GuestImage(
        kernel=final / "vmlinuz",
        initrd=final / "initrd.img",
        kernel_version=kernel_package.removeprefix("linux-image-"),
    )


def read_disk_counter(disk_image: Path, *, snapshot: str | None = None) -> int | None:
    """The counter the guest last wrote to the first sector of ``disk_image`` (any format).

    With ``snapshot``, read the disk as it is in that internal snapshot. Reads with
    ``--force-share`` so a running (or paused) QEMU may hold the image. ``None`` if the guest
    has written nothing yet.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sector"
        command = ["qemu-img", "dd", "-U", f"if={disk_image}", f"of={out}", "bs=512", "count=1"]
        if snapshot is not None:
            command = [
                "qemu-img", "convert", "-U", "-O", "raw", "-l", f"snapshot.name={snapshot}",
                str(disk_image), str(out),
            ]  # fmt: skip
        _run(command, f"read the guest disk {disk_image}")
        with out.open("rb") as f:
            head = f.read(512)
    found = COUNTER_RE.match(head)
    return int(found.group(1)) if found else None


def serial_counters(serial_log: Path, offset: int = 0) -> list[int]:
    """Every ``counter N`` the guest printed to the serial log (after byte ``offset``)."""
    try:
        data = serial_log.read_bytes()
    except FileNotFoundError:
        return []
    return [int(n) for n in COUNTER_RE.findall(data, offset)]


def wait_for_serial(
    serial_log: Path, done: Callable[[bytes], bool], *, timeout: float, what: str
) -> bytes:
    """Poll the serial log until ``done(content)``; ``TimeoutError`` naming ``what`` if not."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            data = serial_log.read_bytes()
        except FileNotFoundError:
            data = b""
        if done(data):
            return data
        if time.monotonic() > deadline:
            tail = data[-300:].decode(errors="replace")
            raise TimeoutError(f"guest did not {what} within {timeout} s; serial ends: {tail!r}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- building


def _build(work: Path, out: Path, kernel_package: str) -> None:
    for package in (kernel_package, BUSYBOX_PACKAGE):
        _run(["apt-get", "download", "-q", package], f"download {package}", cwd=work)
    unpacked = work / "root"
    for deb in sorted(work.glob("*.deb")):
        _run(["dpkg-deb", "-x", str(deb), str(unpacked)], f"unpack {deb.name}")
    version = kernel_package.removeprefix("linux-image-")
    module_dir = unpacked / "lib" / "modules" / version / "kernel"
    busybox = unpacked / "bin" / "busybox"
    if not busybox.is_file():
        raise GuestBuildError(f"{BUSYBOX_PACKAGE} has no bin/busybox")
    modules = _modules_in_load_order(module_dir, MODULES)
    out.mkdir()
    shutil.copyfile(unpacked / "boot" / f"vmlinuz-{version}", out / "vmlinuz")
    archive = _Cpio()
    for folder in ("bin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF", "lib",
                   "lib/modules"):  # fmt: skip
        archive.add_dir(folder)
    archive.add_char_device("dev/console", major=5, minor=1)
    archive.add_file("init", _INIT.replace("{period}", str(COUNTER_PERIOD)).encode(), 0o755)
    archive.add_file("bin/busybox", busybox.read_bytes(), 0o755)
    archive.add_symlink("bin/sh", "busybox")
    archive.add_file("etc/acpi/PWRF/00000080", _POWER_BUTTON_ACTION.encode(), 0o755)
    archive.add_file("lib/modules/order", "\n".join(modules).encode() + b"\n", 0o644)
    for name, path in modules.items():
        archive.add_file(f"lib/modules/{name}.ko", _module_bytes(path), 0o644)
    (out / "initrd.img").write_bytes(archive.finish())


def _modules_in_load_order(module_dir: Path, wanted: tuple[str, ...]) -> dict[str, Path]:
    """Map each wanted module and its dependencies to its file, dependencies first."""
    files = {}
    for path in module_dir.rglob("*.ko*"):
        files[path.name.split(".ko")[0].replace("-", "_")] = path
    ordered: dict[str, Path] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in chain:
            raise GuestBuildError(f"module dependency cycle: {' -> '.join(chain + (name,))}")
        if name not in files:
            raise GuestBuildError(f"kernel module {name} not found under {module_dir}")
        for dep in _module_depends(_module_bytes(files[name])):
            visit(dep, chain + (name,))
        ordered[name] = files[name]

    for name in wanted:
        visit(name, ())
    return ordered


def _module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return lzma.decompress(data) if path.name.endswith(".xz") else data


def _module_depends(module: bytes) -> list[str]:
    found = re.search(rb"\0depends=([^\0]*)\0", module)
    if not found or not found.group(1):
        return []
    return [d.decode().replace("-", "_") for d in found.group(1).split(b",")]


class _Cpio:
    """Writes a ``newc`` cpio archive (what the kernel unpacks as an initramfs)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 1

    def add_dir(self, name: str) -> None:
        self._entry(name, 0o040755, b"")

    def add_file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, 0o100000 | perm, data)

    def add_symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def add_char_device(self, name: str, *, major: int, minor: int) -> None:
        self._entry(name, 0o020600, b"", rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"")
        return b"".join(self._parts)

    def _entry(self, name: str, mode: int, data: bytes, rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._inode += 1
        self._parts += [header, encoded, _pad(len(header) + len(encoded)), data, _pad(len(data))]


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


# --------------------------------------------------------------------------- apt


def _kernel_package() -> str:
    out = _run(["apt-cache", "depends", KERNEL_META_PACKAGE], f"resolve {KERNEL_META_PACKAGE}")
    found = re.search(r"Depends: (linux-image-\S+)", out)
    if not found:
        raise GuestBuildError(f"{KERNEL_META_PACKAGE} does not depend on a linux-image package")
    return found.group(1)


def _candidate_version(package: str) -> str:
    out = _run(["apt-cache", "policy", package], f"look up {package}")
    found = re.search(r"Candidate: (\S+)", out)
    if not found or found.group(1) == "(none)":
        raise GuestBuildError(f"no installable version of {package} (run apt-get update?)")
    return found.group(1)


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GuestBuildError(f"cannot {what}: {command[0]} is not installed") from None
    if done.returncode != 0:
        raise GuestBuildError(f"cannot {what}: {' '.join(command)}: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
