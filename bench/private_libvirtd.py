"""A libvirtd of the benchmark's own, beside (never instead of) the system's.

It runs in a private mount namespace whose ``/etc/libvirt``, ``/run/libvirt``,
``/var/lib/libvirt``, ``/var/cache/libvirt`` and ``/var/log/libvirt`` are folders of a scratch
directory, with its own configuration files; mounts that break a driver on this machine can be
unmounted inside that namespace only (``../shared/README.md``: libvirt's LXC driver needs the
empty cgroup2 mount at ``/sys/fs/cgroup/unified`` gone).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import BenchError, require_libvirt

LIBVIRTD_CONF = 'host_uuid = "0b7e3c52-2f0d-4d5e-9a61-7c2a4e8f1b33"\n'
PRIVATE_DIRS = {
    "etc": "/etc/libvirt",
    "run": "/run/libvirt",
    "lib": "/var/lib/libvirt",
    "cache": "/var/cache/libvirt",
    "log": "/var/log/libvirt",
}
BIND_AND_EXEC = """\
while [ $# -gt 2 ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done
exec libvirtd --pid-file "$1" --config "$2"
"""


def namespace_script(unmount: Sequence[str]) -> str:
    """The shell run inside the new mount namespace: unmount ``unmount`` (those that are mount
    points), bind the private folders, exec libvirtd."""
    lines = ["set -e"] + [
        f"if mountpoint -q {shlex.quote(path)}; then umount {shlex.quote(path)}; fi"
        for path in unmount
    ]
    return "\n".join(lines) + "\n" + BIND_AND_EXEC


@contextmanager
def private_libvirtd(
    root: Path,
    scheme: str,
    *,
    driver_conf: Mapping[str, str] = {},
    unmount: Sequence[str] = (),
    timeout: float = 90.0,
) -> Iterator[Any]:
    """Run a libvirtd of its own under ``root``; yield a libvirt-python connection to its
    ``scheme`` driver (``qemu``, ``lxc``...).

    ``driver_conf`` maps file names of ``/etc/libvirt`` (``qemu.conf``...) to their text. On exit
    the connection is closed and the daemon stopped; ending the domains it holds first is the
    caller's job.
    """
    if os.geteuid() != 0:
        raise BenchError("the private libvirtd needs root (a mount namespace, domains as root)")
    libvirt = require_libvirt()
    for name in PRIVATE_DIRS:
        (root / name).mkdir(parents=True, exist_ok=True)
    for file_name, text in {"libvirtd.conf": LIBVIRTD_CONF, **driver_conf}.items():
        (root / "etc" / file_name).write_text(text)
    binds = [str(p) for name, target in PRIVATE_DIRS.items() for p in (root / name, target)]
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        namespace_script(unmount),
        "sh",
        *binds,
        str(root / "libvirtd.pid"),
        "/etc/libvirt/libvirtd.conf",
    ]
    log_path = root / "libvirtd.log"
    uri = f"{scheme}+unix:///system?socket={root / 'run' / 'libvirt-sock'}"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        conn = wait_for_daemon(libvirt, uri, daemon, log_path, timeout)
        try:
            yield conn
        finally:
            conn.close()
    finally:
        stop(daemon)


def wait_for_daemon(
    libvirt: Any, uri: str, daemon: subprocess.Popen[bytes], log: Path, timeout: float
) -> Any:
    """A connection to the daemon once it answers (its first start probes QEMU for seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        if daemon.poll() is not None:
            raise BenchError(f"libvirtd exited with status {daemon.returncode}; see {log}")
        try:
            return libvirt.open(uri)
        except libvirt.libvirtError as exc:
            if time.monotonic() > deadline:
                raise BenchError(f"libvirtd did not answer within {timeout:g} s: {exc}") from exc
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
