"""The disks snapshots act on, and what ``qemu-img`` and QMP do to them.

Internal snapshots live inside qcow2 images (``qemu-img snapshot`` offline, ``savevm`` /
``loadvm`` / ``delvm`` on a running QEMU); external ones are qcow2 overlays whose backing file is
the image they froze. :class:`DiskGuard` makes an offline change to images undoable: it marks
each image's current content with a temporary internal snapshot first.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid as uuidlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
from lxml import etree
from virtkit.errors import ConfigUnsupportedError, OperationFailedError
from virtkit.xml.parser import parse_root

from virtkit_qemu.qmp import Monitor

JOB_POLL = 0.02
LOCK_WAIT = 5.0


@attrs.frozen(kw_only=True)
class Disk:
    """A writable disk of a domain with an image: target (``vda``), path and format."""

    target: str
    path: Path
    format: str


def domain_disks(domain_xml: str) -> list[Disk]:
    """The writable disks with a source (read-only disks and CD-ROMs are not snapshotted)."""
    root = parse_root(domain_xml, "domain")
    disks = []
    for disk in root.iterfind("devices/disk"):
        source = disk.find("source")
        path = None if source is None else source.get("file") or source.get("dev")
        target = disk.find("target")
        dev = target.get("dev") if target is not None else None
        if disk.get("device", "disk") != "disk" or disk.find("readonly") is not None:
            continue
        if not path or not dev:
            continue
        driver = disk.find("driver")
        fmt = driver.get("type", "raw") if driver is not None else "raw"
        disks.append(Disk(target=dev, path=Path(path), format=fmt))
    return disks


def require_qcow2(disks: Iterable[Disk], what: str) -> None:
    for disk in disks:
        if disk.format != "qcow2":
            raise ConfigUnsupportedError(
                f"{what} needs qcow2 disks: disk '{disk.target}' ({disk.path}) is {disk.format}"
            )


def with_disk_sources(domain_xml: str, sources: dict[str, tuple[Path, str]]) -> str:
    """``domain_xml`` with the disks of the given targets on new files ``(path, format)``."""
    root = parse_root(domain_xml, "domain")
    for disk in root.iterfind("devices/disk"):
        target = disk.find("target")
        dev = target.get("dev") if target is not None else None
        if dev not in sources:
            continue
        path, fmt = sources[dev]
        source = disk.find("source")
        if source is None:
            source = etree.SubElement(disk, "source")
        source.attrib.clear()
        source.set("file", str(path))
        disk.set("type", "file")
        driver = disk.find("driver")
        if driver is None:
            driver = etree.Element("driver", name="qemu")
            disk.insert(0, driver)
        driver.set("type", fmt)
    return str(etree.tostring(root, encoding="unicode"))


# --------------------------------------------------------------------------- qemu-img


def qemu_img(*args: str, what: str) -> str:
    """Run ``qemu-img``. A QEMU that was just stopped may hold its image locks a moment
    longer: a lock conflict is retried for up to :data:`LOCK_WAIT` seconds."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return done.stdout
        message = done.stderr.strip() or done.stdout.strip()
        if "Failed to get" not in message or time.monotonic() > deadline:
            raise OperationFailedError(f"cannot {what}: {message}")
        time.sleep(JOB_POLL)


def image_snapshots(path: Path) -> list[str]:
    """Names of the internal snapshots in the image (readable while a QEMU holds it)."""
    if not path.exists():
        raise OperationFailedError(f"disk image {path} does not exist")
    info = json.loads(qemu_img("info", "-U", "--output=json", str(path), what=f"inspect {path}"))
    return [s["name"] for s in info.get("snapshots", [])]


def require_snapshot(disks: Iterable[Disk], name: str) -> None:
    """Every disk exists and holds internal snapshot ``name``; the error names the disk."""
    for disk in disks:
        if name not in image_snapshots(disk.path):
            raise OperationFailedError(
                f"disk '{disk.target}' ({disk.path}) has no internal snapshot '{name}'"
            )


def create_internal_offline(disks: list[Disk], name: str) -> None:
    """``qemu-img snapshot -c`` on every disk; on failure the ones made are deleted again."""
    done: list[Disk] = []
    try:
        for disk in disks:
            qemu_img("snapshot", "-c", name, str(disk.path), what=f"snapshot disk {disk.path}")
            done.append(disk)
    except BaseException:
        delete_internal_offline(done, name)
        raise


def delete_internal_offline(disks: Iterable[Disk], name: str) -> None:
    for disk in disks:
        if disk.path.exists() and name in image_snapshots(disk.path):
            qemu_img("snapshot", "-d", name, str(disk.path), what=f"delete {name} of {disk.path}")


def apply_internal_offline(disks: Iterable[Disk], name: str) -> None:
    for disk in disks:
        qemu_img("snapshot", "-a", name, str(disk.path), what=f"revert {disk.path} to {name}")


def create_overlay(base: Disk, overlay: Path) -> None:
    """A new qcow2 image at ``overlay`` backed by ``base`` (nothing is overwritten)."""
    if overlay.exists():
        raise OperationFailedError(f"overlay {overlay} for disk '{base.target}' already exists")
    qemu_img(
        "create", "-q", "-f", "qcow2", "-b", str(base.path), "-F", base.format, str(overlay),
        what=f"create overlay {overlay}",
    )  # fmt: skip


class DiskGuard:
    """Undo for offline changes to the images of ``disks`` (a revert's disk part).

    :meth:`mark` snapshots each image's current content under a temporary name; :meth:`undo`
    puts the content back and removes the marks, :meth:`release` removes only the marks
    (through ``monitor`` when a QEMU now holds the images).
    """

    def __init__(self, disks: list[Disk]) -> None:
        self.disks = [d for d in disks if d.format == "qcow2"]
        self.name = f"virtkit-guard-{uuidlib.uuid4().hex[:12]}"

    def mark(self) -> None:
        create_internal_offline(self.disks, self.name)

    def undo(self) -> None:
        apply_internal_offline(self.disks, self.name)
        delete_internal_offline(self.disks, self.name)

    def release(self, monitor: Monitor | None, nodes: dict[str, str]) -> None:
        if monitor is None:
            delete_internal_offline(self.disks, self.name)
            return
        for disk in self.disks:
            monitor.execute(
                "blockdev-snapshot-delete-internal-sync", device=nodes[disk.target], name=self.name
            )


# --------------------------------------------------------------------------- a running QEMU


def top_nodes(mon: Monitor, disks: Iterable[Disk]) -> dict[str, str]:
    """Target -> node name of the image QEMU writes to, found by the image's file name."""
    by_file: dict[str, str] = {}
    for block in mon.execute("query-block"):
        inserted = block.get("inserted")
        if inserted:
            by_file[inserted["file"]] = inserted["node-name"]
    nodes = {}
    for disk in disks:
        if str(disk.path) not in by_file:
            raise OperationFailedError(f"the running QEMU has no image {disk.path} ({disk.target})")
        nodes[disk.target] = by_file[str(disk.path)]
    return nodes


def open_image_snapshots(mon: Monitor, disks: Iterable[Disk]) -> dict[str, list[str]]:
    """Target -> names of the internal snapshots in the image, as the running QEMU sees them,
    for those of ``disks`` whose image it has open (no ``qemu-img`` to run)."""
    by_file: dict[str, list[str]] = {}
    for block in mon.execute("query-block"):
        inserted = block.get("inserted")
        if inserted:
            image = inserted.get("image", {})
            by_file[inserted["file"]] = [s["name"] for s in image.get("snapshots", [])]
    return {d.target: by_file[str(d.path)] for d in disks if str(d.path) in by_file}


def top_nodes_or_none(mon: Monitor, disks: Iterable[Disk]) -> dict[str, str] | None:
    """:func:`top_nodes`, or ``None`` when the QEMU does not have all of ``disks`` open."""
    try:
        return top_nodes(mon, disks)
    except OperationFailedError:
        return None


def human(mon: Monitor, command: str) -> None:
    """Run an HMP snapshot command; its error text (HMP answers errors as output) raises."""
    out = mon.human(command).strip()
    if out:
        raise OperationFailedError(f"QEMU could not '{command}': {out}")


def run_job(mon: Monitor, job_id: str, what: str, *, complete_when_ready: bool = False) -> None:
    """Wait for block job ``job_id`` to conclude (completing it once ready), then dismiss it."""
    while True:
        jobs = {j["id"]: j for j in mon.execute("query-jobs")}
        job: dict[str, Any] | None = jobs.get(job_id)
        if job is None:
            raise OperationFailedError(f"{what}: the block job {job_id} vanished")
        status = job["status"]
        if status == "ready" and complete_when_ready:
            mon.execute("job-complete", id=job_id)
            complete_when_ready = False
        elif status == "concluded":
            mon.execute("job-dismiss", id=job_id)
            if job.get("error"):
                raise OperationFailedError(f"{what}: {job['error']}")
            return
        time.sleep(JOB_POLL)
