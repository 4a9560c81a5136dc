"""The README's main job: a real Linux VM managed through the virtkit CLI.

Builds (or reuses) the small test guest (Debian's kernel + a busybox initramfs that prints
``counter N`` on its serial port), then, in a self-contained root (``qemu:///embed``), shows:
define, start, console output, snapshot, revert (the counter goes back), save and restore (the
counter goes on), ACPI shutdown, undefine. Every step is a ``virtkit`` command, printed before it
runs. Where QEMU cannot run, it says so and shows the same commands on ``test:///default``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIRTKIT = str(Path(sys.executable).with_name("virtkit"))


def run(uri: str, *args: str) -> str:
    """Run one CLI command, echo it and its output; stop the demo if it fails."""
    print(f"$ virtkit -c {shlex.quote(uri)} {shlex.join(args)}", flush=True)
    done = subprocess.run([VIRTKIT, "-c", uri, *args], capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode:
        sys.exit(f"demo stopped: the command above failed (exit {done.returncode})")
    return done.stdout


def wait_for_counter(log: Path, above: int, timeout: float = 60.0) -> int:
    """Wait until the guest's serial log shows a counter above ``above``; return the last one."""
    from virtkit_qemu.guest_image import serial_counters

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counters = serial_counters(log) if log.exists() else []
        if counters and counters[-1] > above:
            return counters[-1]
        time.sleep(0.2)
    sys.exit(f"demo stopped: no serial counter above {above} within {timeout:.0f} s (see {log})")


def show_console(log: Path, lines: int = 3) -> None:
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    print("  console: " + "\n  console: ".join(text[-lines:]))


def qemu_demo() -> None:
    from virtkit_qemu.guest_image import build_guest, serial_counters

    print("Building (or reusing) the small Linux guest from Debian packages...", flush=True)
    guest = build_guest()
    root = Path(tempfile.mkdtemp(prefix="virtkit-demo-"))
    try:
        uri = f"qemu:///embed?root={root}"
        disk = root / "disk.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
        serial = root / "serial.log"
        xml = root / "demo.xml"
        xml.write_text(
            "<domain type='qemu'>\n  <name>demo</name>\n  <memory unit='MiB'>128</memory>\n"
            "  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n"
            f"    <kernel>{guest.kernel}</kernel>\n    <initrd>{guest.initrd}</initrd>\n"
            f"    <cmdline>{guest.cmdline}</cmdline>\n  </os>\n  <features><acpi/></features>\n"
            "  <devices>\n    <disk type='file' device='disk'>\n"
            "      <driver name='qemu' type='qcow2'/>\n"
            f"      <source file='{disk}'/>\n      <target dev='vda' bus='virtio'/>\n"
            "    </disk>\n"
            f"    <serial type='file'><source path='{serial}' append='on'/></serial>\n"
            "  </devices>\n</domain>\n"
        )
        run(uri, "define", str(xml))
        run(uri, "start", "demo")
        run(uri, "list", "--all")
        wait_for_counter(serial, 2)
        show_console(serial)
        run(uri, "snapshot-create-as", "demo", "counting", "taken while the counter runs")
        at_snapshot = serial_counters(serial)[-1]
        later = wait_for_counter(serial, at_snapshot + 8)
        print(f"  snapshot taken near counter {at_snapshot}; the guest counted on to {later}")
        run(uri, "snapshot-list", "demo")
        last = serial_counters(serial)[-1]
        mark = serial.stat().st_size
        run(uri, "snapshot-revert", "demo", "counting")
        wait_for_counter(serial, 0)
        time.sleep(1.0)
        # the revert takes a few ms: the guest may print nothing between the mark and it
        seen = [last, *serial_counters(serial, offset=mark)]
        drop = next((i for i in range(1, len(seen)) if seen[i] < seen[i - 1]), None)
        if drop is None:
            sys.exit(f"demo stopped: the counter did not go back after the revert: {seen}")
        print(
            f"  after the revert the counter went from {seen[drop - 1]} back to {seen[drop]}:"
            " guest memory is the snapshot's"
        )
        save_file = root / "demo.save"
        run(uri, "save", "demo", str(save_file))
        run(uri, "domstate", "demo", "--reason")
        before_restore = serial_counters(serial)[-1]
        run(uri, "restore", str(save_file))
        resumed = wait_for_counter(serial, before_restore)
        print(f"  restored: the counter goes on ({before_restore} -> {resumed})")
        wait_for_console_line(serial, "acpid ready")
        run(uri, "shutdown", "demo", "--timeout", "30")
        run(uri, "domstate", "demo", "--reason")
        run(uri, "undefine", "demo", "--snapshots-metadata")
    finally:
        subprocess.run(
            [VIRTKIT, "-c", f"qemu:///embed?root={root}", "destroy", "demo"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def wait_for_console_line(log: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    sys.exit(f"demo stopped: the guest did not print {text!r} within {timeout:.0f} s")


def test_driver_demo() -> None:
    """The in-memory test driver lives in one process, so this part uses the library."""
    import virtkit

    with virtkit.open("test:///default") as conn:
        dom = conn.lookup_by_name("test")
        print("domains:", [(d.name(), d.state()[0].name) for d in conn.list_all_domains()])
        snap = dom.snapshot_create_xml("<domainsnapshot><name>first</name></domainsnapshot>")
        dom.suspend()
        print("after suspend:", dom.state()[0].name)
        dom.revert_to_snapshot(snap)
        print("after revert to 'first':", dom.state()[0].name)


def main() -> None:
    if shutil.which("qemu-system-x86_64") and shutil.which("qemu-img"):
        qemu_demo()
    else:
        print(
            "qemu-system-x86_64 is not installed here: showing the library on the in-memory "
            "test driver instead (scripts/setup.sh installs QEMU on Debian)"
        )
        test_driver_demo()


if __name__ == "__main__":
    main()
