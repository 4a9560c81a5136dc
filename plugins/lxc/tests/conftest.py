"""Fixtures for the LXC driver's tests: a busybox-static root filesystem and an embedded
connection in a temporary root. Everything here needs root, namespaces and cgroups; when one is
missing the tests fail saying what (they never skip)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import virtkit

BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def build_rootfs(target: Path) -> Path:
    """A minimal root filesystem: busybox-static and a symlink per applet."""
    if not os.path.isfile(BUSYBOX):
        pytest.fail("busybox-static is not installed (Debian package busybox-static)")
    if b"ld-linux" in Path(BUSYBOX).read_bytes()[:4096]:  # a dynamic binary names its loader
        pytest.fail(f"{BUSYBOX} is not statically linked: install busybox-static")
    for sub in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root"):
        (target / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, target / "bin/busybox")
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True)
    for applet in applets.stdout.split():
        link = target / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("/bin/busybox")
    (target / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (target / "etc/group").write_text("root:x:0:\n")
    return target


@pytest.fixture(scope="session")
def rootfs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.fail("the LXC tests need root (namespaces, cgroups, veth pairs)")
    return build_rootfs(tmp_path_factory.mktemp("lxc-template") / "rootfs")


@pytest.fixture
def rootfs(rootfs_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the busybox root filesystem for one test."""
    target = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", str(rootfs_template), str(target)], check=True)
    return target


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[virtkit.Connection]:
    """An embedded LXC connection; every container it left running is destroyed after."""
    connection = virtkit.open(f"lxc:///embed?root={tmp_path / 'embed'}")
    try:
        yield connection
    finally:
        for dom in connection.list_all_domains():
            if dom.is_active():
                dom.destroy()
        connection.close()


def _container_xml(
    name: str,
    root: Path,
    *,
    init: str = "/bin/sh",
    args: tuple[str, ...] = ("-c", "exec sleep 1000"),
    memory_kib: int = 65536,
    extra_devices: str = "",
    extra: str = "",
) -> str:
    initargs = "".join(f"<initarg>{escape(a)}</initarg>" for a in args)
    return f"""<domain type='lxc'>
  <name>{name}</name>
  <uuid>{uuid.uuid4()}</uuid>
  <memory unit='KiB'>{memory_kib}</memory>
  <vcpu>1</vcpu>
  <os><type>exe</type><init>{init}</init>{initargs}</os>
  {extra}
  <devices>
    <filesystem type='mount'><source dir='{root}'/><target dir='/'/></filesystem>
    <console type='pty'/>
    {extra_devices}
  </devices>
</domain>
"""


@pytest.fixture
def container_xml() -> object:
    """``container_xml(name, root, init=..., args=..., memory_kib=..., extra_devices=...,
    extra=...)``: domain XML for a busybox container."""
    return _container_xml
