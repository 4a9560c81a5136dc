"""The status file a supervisor keeps for its container (``<run_dir>/<name>.json``).

Written by the supervisor (and by a client doing the job of a supervisor that is gone), each
change one new file put in place by one rename, without fsync: it describes processes, which a
reboot ends anyway. Read by any process, which is how a later process finds running containers
again.
"""

from __future__ import annotations

import json
import os
import select

import attrs
from lxml import etree
from virtkit.constants import DomainState
from virtkit.state import StateStore
from virtkit.xml import DomainDef
from virtkit.xml.serialize import to_string


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (to tell it from a later process with the same pid),
    or ``None`` when there is no such process (or only its zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait for process ``pid`` (not necessarily our child) to exit; ``True`` if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@attrs.frozen(kw_only=True)
class Status:
    """One container's run state.

    :ivar supervisor_pid: the supervisor, and ``supervisor_start`` its start time.
    :ivar init_pid: the container's init as the host sees it (-1 once stopped).
    :ivar state: ``running`` or ``shutoff`` (paused is read from the freezer, not stored).
    :ivar reason: the libvirt reason number that goes with the state.
    :ivar console: the host pty a console client opens, or ``""``.
    :ivar cgroup: the cgroup's relative path.
    :ivar veths: host ends of the container's veth pairs.
    :ivar error: why the container stopped, when it failed.
    :ivar xml: the running container's live XML (``""`` once stopped).
    """

    name: str
    uuid: str
    supervisor_pid: int
    supervisor_start: int
    init_pid: int
    state: str
    reason: int
    console: str = ""
    cgroup: str = ""
    veths: tuple[str, ...] = ()
    started: float = 0.0
    error: str = ""
    xml: str = ""

    @property
    def domain_state(self) -> DomainState:
        return DomainState.RUNNING if self.state == "running" else DomainState.SHUTOFF

    def supervisor_alive(self) -> bool:
        return process_start_time(self.supervisor_pid) == self.supervisor_start

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Status:
        data = json.loads(text)
        return cls(**{**data, "veths": tuple(data.get("veths", ()))})


def live_xml(definition: DomainDef, status: Status) -> str:
    """The running domain's XML: its id and where its console and interfaces are."""
    root = definition.tree()
    root.set("id", str(status.init_pid))
    devices = root.find("devices")
    assert devices is not None
    for console in devices.findall("console"):
        console.set("tty", status.console)
        source = console.find("source")
        if source is None:
            source = etree.Element("source")
            console.insert(0, source)
        source.set("path", status.console)
        if console.find("target") is None:
            etree.SubElement(console, "target", type="lxc", port="0")
    for iface, host_name in zip(devices.findall("interface"), status.veths, strict=False):
        if iface.find("target") is None:
            etree.SubElement(iface, "target", dev=host_name)
    return to_string(root)


def record_status(store: StateStore, status: Status, definition: DomainDef | None) -> None:
    """Write the status with, for a running container, its live XML."""
    xml = ""
    if status.state == "running" and definition is not None:
        xml = live_xml(definition, status)
    write_status(store, attrs.evolve(status, xml=xml))


def read_status(store: StateStore, name: str) -> Status | None:
    text = store.read_text(f"{name}.json")
    return Status.from_json(text) if text else None


def write_status(store: StateStore, status: Status) -> None:
    store.write_text(f"{status.name}.json", status.to_json())
