"""Live migration between two dom0s with ``xl``: the destination listens with
``xl migrate-receive`` behind ``socat`` (prepare), the source streams the domain with
``xl migrate`` (perform), then the destination checks and records it (finish) and the source
forgets it (confirm). ``xl migrate`` resumes the domain on the source when the transfer fails,
and the destination's listener and half-received domain are removed on rollback.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any

import virtkit
from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventType,
    DomainMigrateFlags,
    HookEvent,
)
from virtkit.errors import (
    DomainExistsError,
    ErrorDomain,
    InvalidArgumentError,
    OperationFailedError,
)
from virtkit.records import (
    DomainRecord,
    DomainRef,
    MigrationOffer,
    MigrationTarget,
    Progress,
    ProgressCallback,
)

from virtkit_xen.base import XenBase, definition_files
from virtkit_xen.remote import CommandError, quote
from virtkit_xen.store import locked, remove, write_file

DEFAULT_PORT = 8002
TRANSFER_TIMEOUT = 900.0


def _listen(params: dict[str, Any]) -> tuple[str | None, int]:
    """Address and port from ``migrate_uri`` (``tcp://host:port`` or ``tcp:host:port``)."""
    uri = params.get("migrate_uri")
    if not uri:
        return None, DEFAULT_PORT
    rest = str(uri).removeprefix("tcp:").lstrip("/")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgumentError(f"migrate_uri {uri!r} is not tcp://HOST:PORT")
    return host, int(port)


class MigrationMixin(XenBase):
    """The migration hooks of :class:`virtkit_xen.driver.XenDriver`."""

    @virtkit.hookimpl
    def virtkit_migrate_begin(
        self, dom: DomainRef, flags: int, params: dict[str, Any]
    ) -> MigrationOffer:
        view, _ = self._require_active(dom)
        xml = view.defined.get(dom.name) or self.dom0.run(
            locked(f'cat "$S"/run/{quote(dom.name)}.xml')
        )
        memory = view.running[dom.name].memory_mib
        cookie = json.dumps({"name": dom.name, "memory_mib": memory}).encode()
        return MigrationOffer(xml=xml, cookie=cookie)

    @virtkit.hookimpl
    def virtkit_migrate_prepare(
        self, offer: MigrationOffer, flags: int, params: dict[str, Any]
    ) -> MigrationTarget:
        name = json.loads(offer.cookie or b"{}").get("name")
        if not name:
            raise InvalidArgumentError("migration offer names no domain")
        view = self.view()
        if name in view.running:
            raise DomainExistsError(
                f"domain '{name}' is already running on the destination", domain=ErrorDomain.XEN
            )
        xml = self.ctx.run_domain_hook(HookEvent.MIGRATE, name, offer.xml)
        host, port = _listen(params)
        address = host or self.dom0.run("hostname -I").split()[0]
        run = f'"$S"/run/{quote(name)}'
        # the listener takes one connection; its pid lets finish wait for it and rollback stop it
        self.dom0.run(
            locked(
                write_file(f"run/{name}.xml", xml)
                + f"nohup socat TCP-LISTEN:{port},reuseaddr EXEC:'xl migrate-receive' "
                f"> {run}.migrate.log 2>&1 < /dev/null 9>&- &\necho $! > {run}.migrate.pid\n"
                + f"for i in $(seq 1 50); do ss -ltn | grep -q ':{port} ' && exit 0; "
                "sleep 0.1; done\n"
                f"echo 'the migration listener did not start' >&2; exit 1"
            )
        )
        return MigrationTarget(uri=f"tcp:{address}:{port}", cookie=offer.cookie)

    @virtkit.hookimpl
    def virtkit_migrate_perform(
        self,
        dom: DomainRef,
        target: MigrationTarget,
        flags: int,
        params: dict[str, Any],
        progress: ProgressCallback | None,
    ) -> bytes:
        view, _ = self._require_active(dom)
        memory = view.running[dom.name].memory_mib * 1024 * 1024
        host, port = _listen({"migrate_uri": target.uri})
        if progress:
            progress(Progress(operation="migrate", processed=0, total=memory))
        # -s "": the last argument is the whole command that carries the stream
        self.dom0.run(
            f"xl migrate -s '' {quote(dom.name)} {quote(f'socat - TCP:{host}:{port}')}",
            timeout=TRANSFER_TIMEOUT,
        )
        if progress:
            progress(Progress(operation="migrate", processed=memory, total=memory))
        xml = view.defined.get(dom.name) or ""
        return json.dumps({"name": dom.name, "xml": xml}).encode()

    @virtkit.hookimpl
    def virtkit_migrate_finish(
        self, name: str, cookie: bytes, flags: int, params: dict[str, Any], cancelled: bool
    ) -> DomainRecord | None:
        run = f'"$S"/run/{quote(name)}'
        wait_listener = (
            f"pid=$(cat {run}.migrate.pid 2>/dev/null || true)\n"
            # the listener is done when it is gone or a zombie (the dom0's init may not reap)
            '[ -z "$pid" ] || for i in $(seq 1 600); do st=Z; '
            "read -r _ _ st _ < /proc/$pid/stat 2>/dev/null || true; "
            '[ "$st" = Z ] && break; sleep 0.2; done\n'
        )
        if cancelled:
            self.dom0.run(
                locked(
                    f"pid=$(cat {run}.migrate.pid 2>/dev/null || true)\n"
                    '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true\n'
                    f"xl destroy {quote(name)} 2>/dev/null || true\n"
                    + remove(f"run/{name}.migrate.pid")
                    + remove(f"run/{name}.xml")
                ),
                check=False,
            )
            return None
        try:
            self.dom0.run(locked(wait_listener + f"xl list {quote(name)} >/dev/null"))
        except CommandError as exc:
            log = self.dom0.run(locked(f"cat {run}.migrate.log"), check=False)
            raise OperationFailedError(
                f"domain '{name}' did not arrive: {log.strip()[-300:]}", domain=ErrorDomain.XEN
            ) from exc
        xml = self.dom0.run(locked(f"cat {run}.xml"))
        script = remove(f"run/{name}.migrate.pid")
        if flags & DomainMigrateFlags.PERSIST_DEST:
            script += definition_files(name, xml)
        if flags & DomainMigrateFlags.PAUSED:
            script += f"xl pause {quote(name)}\n"
        self.dom0.run(locked(script))
        _, record = self._find(DomainRef(name=name, uuid=uuidlib.UUID(int=0)))
        self._emit(name, record.uuid, DomainEventType.STARTED, DomainEventStartedDetail.MIGRATED)
        return record

    @virtkit.hookimpl
    def virtkit_migrate_confirm(
        self, dom: DomainRef, cookie: bytes, flags: int, params: dict[str, Any], cancelled: bool
    ) -> None:
        if cancelled:
            return  # xl migrate resumed the domain here when the transfer failed
        if flags & DomainMigrateFlags.UNDEFINE_SOURCE:
            self.dom0.run(
                locked(remove(f"domains/{dom.name}.xml") + remove(f"domains/{dom.name}.cfg"))
            )
        self._emit(dom.name, dom.uuid, DomainEventType.STOPPED, DomainEventStoppedDetail.MIGRATED)
