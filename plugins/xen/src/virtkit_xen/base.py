"""The core shared by the Xen driver's hooks: one dom0 (:class:`~virtkit_xen.remote.Dom0`),
the host view that one status round trip returns, domain records and events, and the helpers
that start a domain or act on a running one in a single round trip."""

from __future__ import annotations

import uuid as uuidlib

import attrs
from virtkit.constants import (
    DomainEventStoppedDetail,
    DomainEventType,
    DomainState,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.errors import ErrorDomain, NoConnectError, NoDomainError, OperationInvalidError
from virtkit.records import DomainRecord, DomainRef
from virtkit.xml import parse_domain

from virtkit_xen.remote import CommandError, Dom0, quote
from virtkit_xen.store import locked, store, write_file
from virtkit_xen.tonative import definition_to_config

#: ``xl list`` state letters, most significant first
_STATES = (
    ("c", DomainState.CRASHED),
    ("s", DomainState.SHUTDOWN),
    ("p", DomainState.PAUSED),
    ("r", DomainState.RUNNING),
    ("b", DomainState.RUNNING),
)


@attrs.frozen
class Running:
    """One line of ``xl list -v``."""

    name: str
    id: int
    memory_mib: int
    vcpus: int
    state: DomainState
    cpu_seconds: float
    uuid: uuidlib.UUID


@attrs.frozen
class HostView:
    """What one status round trip learns: running domains, definitions, save images."""

    running: dict[str, Running]
    defined: dict[str, str]
    managed_saves: frozenset[str]
    autostart: frozenset[str]
    snapshot_counts: dict[str, int]


def _parse_xl_list(text: str, uuids: dict[str, uuidlib.UUID]) -> dict[str, Running]:
    """The domains of ``xl list`` output (dom0 left out), with UUIDs from xenstore's ``/vm``."""
    out = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 6 or fields[0] == "Domain-0":
            continue
        name, domid, mem, vcpus, flags, cpu = fields[:6]
        state = next((s for letter, s in _STATES if letter in flags), DomainState.RUNNING)
        uid = uuids.get(name, uuidlib.UUID(int=0))
        out[name] = Running(name, int(domid), int(mem), int(vcpus), state, float(cpu), uid)
    return out


def domain_uuid(xml: str) -> uuidlib.UUID:
    return uuidlib.UUID(parse_domain(xml.encode()).tree().findtext("uuid"))


class XenBase:
    """The connection to one dom0 and what every hook needs: the host view, records,
    events and the one-round-trip helpers."""

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx
        uri = ctx.uri
        if uri.path.rstrip("/") not in ("/system", ""):
            raise NoConnectError(
                f"xen: unexpected URI path {uri.path!r} (use /system)", domain=ErrorDomain.XEN
            )
        self.dom0 = Dom0(uri)
        self._reasons: dict[str, int] = {}
        try:
            self.dom0.run(
                "command -v xl >/dev/null || { echo 'xl not found: not a Xen dom0' >&2; exit 1; }"
            )
        except CommandError as exc:
            self.dom0.close()
            raise NoConnectError(
                f"xen: {uri}: {exc.stderr.strip()}", domain=ErrorDomain.XEN
            ) from exc
        except Exception:
            self.dom0.close()
            raise

    # ------------------------------------------------------------------ host view

    def view(self) -> HostView:
        """Running domains and virtkit's records, in one round trip of shell builtins plus
        ``xl list`` and ``xenstore-ls`` (process start-up is what costs on a dom0)."""
        out = self.dom0.run(
            store(
                "xl list; echo @@SPLIT@@; xenstore-ls -f /vm 2>/dev/null || true; echo @@SPLIT@@\n"
                'for f in "$S"/domains/*.xml; do [ -e "$f" ] || continue; n=${f##*/};'
                ' printf "\\1%s\\1%s" "${n%.xml}" "$(<"$f")"; done; echo @@SPLIT@@\n'
                'for f in "$S"/save/*.save; do [ -e "$f" ] && n=${f##*/} &&'
                ' echo "${n%.save}"; done; echo @@SPLIT@@\n'
                'for f in "$S"/domains/*.autostart; do [ -e "$f" ] && n=${f##*/} &&'
                ' echo "${n%.autostart}"; done; echo @@SPLIT@@\n'
                'for d in "$S"/snapshots/*/; do [ -d "$d" ] || continue; n=0;'
                ' for x in "$d"*.xml; do [ -e "$x" ] && n=$((n+1)); done; d=${d%/};'
                ' echo "$n ${d##*/}"; done; true'
            )
        )
        listing, vms, defs, saves, autostart, counts = out.split("@@SPLIT@@\n")
        parts = defs.strip("\n").split("\1")[1:]
        defined = {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)}
        uuids = {}
        for line in vms.splitlines():
            path, _, value = line.partition(" = ")
            if path.endswith("/name"):
                uuids[value.strip('"')] = uuidlib.UUID(path.split("/")[2])
        snap_counts = {}
        for line in counts.splitlines():
            count, _, name = line.strip().partition(" ")
            snap_counts[name] = int(count)
        return HostView(
            _parse_xl_list(listing, uuids),
            defined,
            frozenset(saves.split()),
            frozenset(autostart.split()),
            snap_counts,
        )

    def _record(self, view: HostView, name: str) -> DomainRecord:
        running = view.running.get(name)
        persistent = name in view.defined
        if running is not None:
            state, uid, domid = running.state, running.uuid, running.id
        else:
            state, uid, domid = DomainState.SHUTOFF, domain_uuid(view.defined[name]), -1
        return DomainRecord(
            name=name,
            uuid=uid,
            id=domid,
            state=state,
            reason=self._reasons.get(name, 0),
            persistent=persistent,
            autostart=name in view.autostart,
            managed_save=name in view.managed_saves,
            snapshot_count=view.snapshot_counts.get(name, 0),
        )

    def _find(self, dom: DomainRef, view: HostView | None = None) -> tuple[HostView, DomainRecord]:
        view = view or self.view()
        if dom.name not in view.running and dom.name not in view.defined:
            raise NoDomainError(
                f"no domain with matching name '{dom.name}'", domain=ErrorDomain.XEN
            )
        return view, self._record(view, dom.name)

    def _emit(self, name: str, uid: uuidlib.UUID, event: DomainEventType, detail: int) -> None:
        self.ctx.emit_event(DomainRef(name=name, uuid=uid), event, int(detail))

    # ------------------------------------------------------------------ connection

    def _start_script(self, name: str, xml: str, paused: bool, image: str | None) -> str:
        """Write the xl config of ``xml`` and create the domain, from ``image`` if given."""
        cfg = definition_to_config(parse_domain(xml.encode()), "xl")
        flag = "-p " if paused else ""
        run = f'"$S"/run/{quote(name)}.cfg'
        script = write_file(f"run/{name}.cfg", cfg) + write_file(f"run/{name}.xml", xml)
        if image:
            script += f"xl restore {flag}{run} {image} >/dev/null 9>&-\n"
        else:
            script += f"xl create -q {flag}{run} >/dev/null 9>&-\n"
        return script

    def start_domain(
        self, name: str, xml: str, *, paused: bool, image: str | None, cleanup: str = ""
    ) -> None:
        """Start ``name`` from ``xml`` (restoring ``image`` when given); run ``cleanup`` (shell)
        only after the domain runs. The extensions' START hook may veto it."""
        xml = self.ctx.run_domain_hook(HookEvent.PREPARE, name, xml)
        self.ctx.run_domain_hook(HookEvent.START, name, xml)
        self.dom0.run(locked(self._start_script(name, xml, paused, image) + cleanup))
        self.ctx.run_domain_hook(HookEvent.STARTED, name, xml)

    def _require_active(self, dom: DomainRef) -> tuple[HostView, DomainRecord]:
        view, record = self._find(dom)
        if record.state == DomainState.SHUTOFF:
            raise OperationInvalidError(
                f"domain '{dom.name}' is not running", domain=ErrorDomain.XEN
            )
        return view, record

    def _act(
        self, dom: DomainRef, command: str, *, timeout: float | None = 600, quiet: bool = False
    ) -> DomainRef:
        """Run ``command`` on a running domain in one round trip (no separate state check:
        ``xl`` refuses a domain that does not run, and that becomes OperationInvalidError).
        ``quiet``: the command's error output counts as a refusal even with status 0."""
        if quiet:
            command = f"set -o pipefail; {command} 2>&1 >/dev/null | tee /dev/stderr"
        try:
            out = self.dom0.run(command, timeout=timeout)
        except CommandError as exc:
            if "invalid domain identifier" in exc.stderr:
                raise OperationInvalidError(
                    f"domain '{dom.name}' is not running", domain=ErrorDomain.XEN
                ) from exc
            raise
        if quiet and "error" in out:  # e.g. xl unpause of a running domain: status 0
            raise OperationInvalidError(
                f"domain '{dom.name}': {out.strip().splitlines()[-1]}", domain=ErrorDomain.XEN
            )
        return dom

    def _stopped(self, dom: DomainRef, detail: DomainEventStoppedDetail) -> None:
        self._reasons[dom.name] = int(detail) + 1  # shutoff reasons follow the event details
        self._emit(dom.name, dom.uuid, DomainEventType.STOPPED, detail)
        self.ctx.run_domain_hook(HookEvent.STOPPED, dom.name, "")
