"""The disks of a migrating domain: which ones both hosts share (the same file, by device and
inode) and which ones are copied, and the NBD block jobs that copy them: the destination's QEMU
exports its (new) images over NBD on a unix socket, the source's QEMU mirrors into them until the
stream switches over.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import attrs
from virtkit.errors import InvalidArgumentError, OperationFailedError, OperationInvalidError

from virtkit_qemu.argv.disks import node_names
from virtkit_qemu.qmp import Monitor
from virtkit_qemu.snapshot_disks import domain_disks, qemu_img

JOB_PREFIX = "migrate-"
"""Job ids and NBD client node names of the copy of disk ``vda`` are ``migrate-vda``."""

READY_TIMEOUT = 600.0
POLL = 0.02


@attrs.frozen(kw_only=True)
class SourceDisk:
    """A writable disk of the source: its identity (device, inode), and for a copy its image
    format and virtual size."""

    target: str
    path: str
    device: int
    inode: int
    format: str
    size: int = 0


def source_disks(domain_xml: str, *, sizes: bool) -> list[SourceDisk]:
    """The source's writable disks; with ``sizes`` their virtual size too (needed to copy)."""
    disks = []
    for disk in domain_disks(domain_xml):
        try:
            st = os.stat(disk.path)
        except OSError as exc:
            raise OperationFailedError(
                f"cannot read disk '{disk.target}' ({disk.path}): {exc.strerror}"
            ) from exc
        size = 0
        if sizes:
            info = qemu_img("info", "-U", "--output=json", str(disk.path), what=f"read {disk.path}")
            size = int(json.loads(info)["virtual-size"])
        disks.append(
            SourceDisk(
                target=disk.target,
                path=str(disk.path),
                device=st.st_dev,
                inode=st.st_ino,
                format=disk.format,
                size=size,
            )
        )
    return disks


@attrs.frozen(kw_only=True)
class DiskPlan:
    """What the destination does with the disks: ``copies`` (targets) receive the source's
    content over NBD; ``created`` are the images made for them (removed if the migration fails).
    """

    copies: tuple[str, ...] = ()
    created: tuple[str, ...] = ()


def plan_disks(dest_xml: str, source: list[SourceDisk], *, copy: bool) -> DiskPlan:
    """Check the destination's disks. A disk whose path reaches the source's very file is shared
    and never copied; without ``copy`` every disk must be shared storage that exists here.

    :raises OperationInvalidError: a disk is missing (and not to be copied).
    """
    by_target = {d.target: d for d in source}
    copies: list[str] = []
    missing: list[tuple[str, Path, str]] = []
    for disk in domain_disks(dest_xml):
        src = by_target.get(disk.target)
        try:
            st = os.stat(disk.path)
        except FileNotFoundError:
            st = None
        if st is not None and src is not None and (st.st_dev, st.st_ino) == (src.device, src.inode):
            continue  # shared storage
        if not copy:
            if st is None:
                raise OperationInvalidError(
                    f"disk '{disk.target}' ({disk.path}) does not exist on the destination: "
                    "migration needs shared storage, or copy-storage-all to copy the disk"
                )
            continue
        if src is None:
            raise InvalidArgumentError(
                f"disk '{disk.target}' of the destination XML is not a disk of the source domain"
            )
        copies.append(disk.target)
        if st is None:
            missing.append((disk.target, disk.path, disk.format))
    created: list[str] = []
    try:
        for target, path, fmt in missing:
            qemu_img(
                "create",
                "-q",
                "-f",
                fmt,
                str(path),
                str(by_target[target].size),
                what=f"create the copy of disk '{target}' at {path}",
            )
            created.append(str(path))
    except BaseException:
        remove_images(created)
        raise
    return DiskPlan(copies=tuple(copies), created=tuple(created))


def remove_images(paths: tuple[str, ...] | list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


# ---------------------------------------------------------------------- destination: NBD export


def export_disks(mon: Monitor, socket: Path, targets: tuple[str, ...]) -> None:
    """Serve the disks ``targets`` of the waiting destination QEMU, writable, on ``socket``."""
    mon.execute("nbd-server-start", addr={"type": "unix", "data": {"path": str(socket)}})
    for target in targets:
        node = node_names(target)[1]
        mon.call(
            "block-export-add",
            {"type": "nbd", "id": JOB_PREFIX + target, "node-name": node, "writable": True},
        )


def stop_export(mon: Monitor) -> None:
    mon.execute("nbd-server-stop")


# ---------------------------------------------------------------------- source: mirror jobs


def start_mirrors(mon: Monitor, socket: Path, targets: tuple[str, ...]) -> None:
    """Mirror each disk into the destination's NBD export (a full copy, then kept in sync)."""
    for target in targets:
        node = node_names(target)[1]
        mon.call(
            "blockdev-add",
            {
                "driver": "nbd",
                "node-name": JOB_PREFIX + target,
                "server": {"type": "unix", "path": str(socket)},
                "export": node,
            },
        )
        mon.call(
            "blockdev-mirror",
            {
                "job-id": JOB_PREFIX + target,
                "device": node,
                "target": JOB_PREFIX + target,
                "sync": "full",
            },
        )


def copy_jobs(mon: Monitor) -> list[dict[str, object]]:
    return [j for j in mon.execute("query-block-jobs") if str(j["device"]).startswith(JOB_PREFIX)]


def wait_ready(open_monitor: Callable[[], Monitor], targets: tuple[str, ...], name: str) -> None:
    """Wait until every copy has caught up (the mirror jobs are ready); ``open_monitor`` gives a
    fresh monitor connection for each look, so others reach QEMU meanwhile."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        with open_monitor() as mon:
            jobs = {j["device"]: j for j in copy_jobs(mon)}
        missing = [t for t in targets if JOB_PREFIX + t not in jobs]
        if missing:
            raise OperationFailedError(
                f"copying disk '{missing[0]}' of domain '{name}' to the destination failed"
            )
        if all(jobs[JOB_PREFIX + t].get("ready") for t in targets):
            return
        if time.monotonic() > deadline:
            raise OperationFailedError(
                f"copying the disks of domain '{name}' did not catch up in {READY_TIMEOUT:g} s"
            )
        time.sleep(POLL)


def end_mirrors(mon: Monitor, *, force: bool) -> None:
    """End the copy jobs and drop the NBD client nodes. Without ``force`` a ready mirror first
    writes what is left (the source's CPUs are stopped then), so the copy is complete."""
    for job in copy_jobs(mon):
        mon.call("block-job-cancel", {"device": job["device"], "force": force})
    deadline = time.monotonic() + READY_TIMEOUT
    while copy_jobs(mon):
        if time.monotonic() > deadline:
            raise OperationFailedError("the disk copy jobs did not end")
        time.sleep(POLL)
    for node in mon.execute("query-named-block-nodes", flat=True):
        if str(node.get("node-name", "")).startswith(JOB_PREFIX):
            mon.execute("blockdev-del", **{"node-name": node["node-name"]})
