"""The root filesystem and ``lxc.mount.entry`` lines as ``<filesystem>`` devices.

As libvirt: a source under ``/dev/`` is a block device, ``tmpfs`` is a RAM filesystem sized by
its ``size=`` option, ``ro`` makes the mount read-only, and the mounts every container gets
anyway (``/proc``, ``/sys``, ...) are left out. A whole fstab file (``lxc.mount.fstab``, legacy
``lxc.mount``) is refused: its lines must be written as ``lxc.mount.entry``.
"""

from __future__ import annotations

from lxml import etree

from virtkit_lxc.native.reader import Entry, LxcConfig, config_error
from virtkit_lxc.native.values import size_bytes

#: mount points the LXC driver sets up in every container (libvirt's basic mounts)
BASIC_MOUNTS = frozenset(
    {
        "/proc",
        "/proc/sys",
        "/proc/sys/net/ipv4",
        "/proc/sys/net/ipv6",
        "/sys",
        "/sys/kernel/security",
        "/sys/fs/selinux",
    }
)


def _filesystem(
    kind: str,
    target: str,
    *,
    source: str | None = None,
    kib: int | None = None,
    readonly: bool = False,
) -> etree._Element:
    fs = etree.Element("filesystem", type=kind, accessmode="passthrough")
    if kib is not None:
        etree.SubElement(fs, "source", usage=str(kib), units="KiB")
    elif source is not None:
        etree.SubElement(fs, "source", {"dev" if kind == "block" else "dir": source})
    etree.SubElement(fs, "target", dir=target)
    if readonly:
        etree.SubElement(fs, "readonly")
    return fs


def root_filesystem(config: LxcConfig) -> etree._Element:
    """``lxc.rootfs.path`` (legacy ``lxc.rootfs``) mounted at ``/``."""
    entry = config.first("lxc.rootfs.path", "lxc.rootfs")
    if entry is None or not entry.value:
        raise config_error("no lxc.rootfs.path (legacy lxc.rootfs): a container needs a root")
    kind = "block" if entry.value.startswith("/dev/") else "mount"
    return _filesystem(kind, "/", source=entry.value)


def mount_filesystems(config: LxcConfig) -> list[etree._Element]:
    """One ``<filesystem>`` per ``lxc.mount.entry`` that is not a basic mount."""
    fstab = config.first("lxc.mount.fstab", "lxc.mount")
    if fstab is not None:
        raise fstab.unsupported("fstab files are not converted; use lxc.mount.entry lines")
    filesystems = []
    for entry in config.all("lxc.mount.entry"):
        fs = _mount_entry(entry)
        if fs is not None:
            filesystems.append(fs)
    return filesystems


def _mount_entry(entry: Entry) -> etree._Element | None:
    fields = entry.value.split()
    if len(fields) < 4:
        raise entry.invalid(
            f"expected 'source target fstype options [dump pass]', got {entry.value!r}"
        )
    source, target, fstype, options_text = fields[:4]
    target = target if target.startswith("/") else f"/{target}"
    if target in BASIC_MOUNTS:
        return None
    options = options_text.split(",")
    kind: str = "mount"
    kib: int | None = None
    mount_source: str | None = source
    if fstype == "tmpfs":
        sizes = [o.removeprefix("size=") for o in options if o.startswith("size=")]
        if not sizes:
            raise entry.invalid("tmpfs mount without a size: set the size= option")
        kind, kib, mount_source = "ram", size_bytes(entry, sizes[0]) // 1024, None
    if source.startswith("/dev/"):
        kind = "block"
    return _filesystem(kind, target, source=mount_source, kib=kib, readonly="ro" in options)
