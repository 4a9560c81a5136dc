"""The issue's "done when": a busybox container defined from XML starts through the CLI, runs
in its own pid namespace with its own root, and destroy leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def virtkit_cli(uri: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "virtkit.cli", "-c", uri, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"virtkit {' '.join(args)}: {done.stderr}"
    return done.stdout


def test_define_start_destroy_through_the_cli(rootfs, container_xml, tmp_path: Path) -> None:
    uri = f"lxc:///embed?root={tmp_path / 'embed'}"
    xml_file = tmp_path / "cli1.xml"
    xml_file.write_text(container_xml("cli1", rootfs))
    (rootfs / "where").write_text("container root\n")
    virtkit_cli(uri, "define", str(xml_file))
    inactive = virtkit_cli(uri, "dumpxml", "--inactive", "cli1").replace('"', "'")
    for default in (  # libvirt's LXC canonical form, as its LXC driver stores a definition
        "<currentMemory unit='KiB'>65536</currentMemory>",
        "<vcpu placement='static'>1</vcpu>",
        "<clock offset='utc'/>",
        "<on_crash>destroy</on_crash>",
        "<emulator>/usr/libexec/libvirt_lxc</emulator>",
        "<target type='lxc' port='0'/>",
    ):
        assert default in inactive, default
    virtkit_cli(uri, "start", "cli1")
    init_pid = int(virtkit_cli(uri, "domid", "cli1"))
    assert "running" in virtkit_cli(uri, "domstate", "cli1")
    assert os.readlink(f"/proc/{init_pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    with open(f"/proc/{init_pid}/status") as fh:
        nspid = next(line for line in fh if line.startswith("NSpid:")).split()
    assert nspid[-1] == "1", "init is pid 1 in its own pid namespace"
    assert Path(f"/proc/{init_pid}/root/where").read_text() == "container root\n"
    assert "<console type='pty' tty='/dev/pts/" in virtkit_cli(uri, "dumpxml", "cli1").replace(
        '"', "'"
    )
    virtkit_cli(uri, "destroy", "cli1")
    assert not os.path.exists(f"/proc/{init_pid}")
    assert "shut off" in virtkit_cli(uri, "domstate", "cli1")
    virtkit_cli(uri, "undefine", "cli1")
