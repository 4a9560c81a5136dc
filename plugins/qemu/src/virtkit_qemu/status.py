"""A domain's runtime status: the JSON file in the run folder that lets any process find and
manage a QEMU that another process started."""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any

import attrs
from virtkit.constants import DomainState


@attrs.frozen(kw_only=True)
class Owner:
    """The process (and connection in it) a domain started with autodestroy belongs to."""

    pid: int
    started: int
    connection: str


@attrs.frozen(kw_only=True)
class DomainStatus:
    """What is known of a domain's QEMU.

    :ivar id: libvirt's domain id, -1 when inactive.
    :ivar pid: QEMU's PID and ``started`` its start time (``/proc/<pid>/stat``), ``None`` when
        inactive.
    :ivar runtime_dir: the folder holding QEMU's sockets and pidfile.
    :ivar transient: the domain has no persistent config and vanishes when it stops.
    :ivar rebooting: a reboot was asked as an ACPI power-off; the guest's power-off resets it.
    :ivar stopping: the shut-off reason an operation that is stopping QEMU wants recorded.
    :ivar changed_at: when the status was last written (seconds since the epoch); QMP events
        from before that are already accounted for.
    """

    name: str
    uuid: uuidlib.UUID
    state: DomainState
    reason: int = 0
    id: int = -1
    pid: int | None = None
    started: int | None = None
    runtime_dir: str | None = None
    transient: bool = False
    autodestroy: Owner | None = None
    rebooting: bool = False
    stopping: int | None = None
    changed_at: float = 0.0

    @property
    def active(self) -> bool:
        return self.pid is not None

    def to_json(self) -> str:
        data: dict[str, Any] = attrs.asdict(self, recurse=True)
        data["uuid"] = str(self.uuid)
        data["state"] = int(self.state)
        return json.dumps(data, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DomainStatus:
        data = json.loads(text)
        data["uuid"] = uuidlib.UUID(data["uuid"])
        data["state"] = DomainState(data["state"])
        if data.get("autodestroy"):
            data["autodestroy"] = Owner(**data["autodestroy"])
        return cls(**data)
