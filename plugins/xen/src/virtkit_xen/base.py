"""The core shared by the Xen driver's hooks: one dom0 (:class:`~virtkit_xen.remote.Dom0`),
the host view that one status round trip returns, domain records and events, and the helpers
that start a domain or act on a running one in a single round trip."""

from __future__ import annotations

import uuid as uuidlib

import attrs
from virtkit.constants import (
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainPausedReason,
    DomainRunningReason,
    DomainState,
    HookEvent,
)
from virtkit.driver import DriverContext
from virtkit.errors import ErrorDomain, NoConnectError, NoDomainError, OperationInvalidError
from virtkit.records import DomainRecord, DomainRef
from virtkit.xml import parse_domain

from virtkit_xen.console import ConsoleRelay
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


#: exit statuses of the start script: no definition; a definition without its xl config
_NO_DOMAIN, _NO_CONFIG = 92, 94


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


def _parse_xl_list(text: str) -> dict[str, Running]:
    """The domains of ``xl list -v`` output, dom0 left out."""
    out = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 7 or fields[0] == "Domain-0":
            continue
        name, domid, mem, vcpus, flags, cpu, uid = fields[:7]
        state = next((s for letter, s in _STATES if letter in flags), DomainState.RUNNING)
        out[name] = Running(
            name, int(domid), int(mem), int(vcpus), state, float(cpu), uuidlib.UUID(uid)
        )
    return out


def records_script(names: str) -> str:
    """Shell builtins listing virtkit's records of the domains whose names match ``names``
    (a shell word: ``*`` for all): definitions, managed saves, autostart, snapshot counts."""
    return (
        f'for f in "$S"/domains/{names}.xml; do [ -e "$f" ] || continue; n=${{f##*/}};'
        " IFS= read -r -d '' x < \"$f\" || :;"
        ' printf "\\1%s\\1%s" "${n%.xml}" "$x"; done; echo @@SPLIT@@\n'
        f'for f in "$S"/save/{names}.save; do [ -e "$f" ] && n=${{f##*/}} &&'
        ' echo "${n%.save}"; done; echo @@SPLIT@@\n'
        f'for f in "$S"/domains/{names}.autostart; do [ -e "$f" ] && n=${{f##*/}} &&'
        ' echo "${n%.autostart}"; done; echo @@SPLIT@@\n'
        f'for d in "$S"/snapshots/{names}/; do [ -d "$d" ] || continue; n=0;'
        ' for x in "$d"*.xml; do [ -e "$x" ] && n=$((n+1)); done; d=${d%/};'
        ' echo "$n ${d##*/}"; done; true'
    )


def parse_records(running: dict[str, Running], text: str) -> HostView:
    """The host view from ``running`` and the output of :func:`records_script`."""
    defs, saves, autostart, counts = text.split("@@SPLIT@@\n")
    parts = defs.strip("\n").split("\1")[1:]
    snap_counts = {}
    for line in counts.splitlines():
        count, _, name = line.strip().partition(" ")
        snap_counts[name] = int(count)
    return HostView(
        running,
        {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2)},
        frozenset(saves.split()),
        frozenset(autostart.split()),
        snap_counts,
    )


def _reason_after(event: DomainEventType, detail: int) -> tuple[DomainState, int] | None:
    """The state and reason a domain has after ``event``: started and stopped reasons follow
    the event details (one more), a pause is the user's, a resume is ``UNPAUSED``."""
    if event == DomainEventType.STARTED:
        return DomainState.RUNNING, detail + 1
    if event == DomainEventType.STOPPED:
        return DomainState.SHUTOFF, detail + 1
    if event == DomainEventType.SUSPENDED and detail == DomainEventSuspendedDetail.PAUSED:
        return DomainState.PAUSED, DomainPausedReason.USER
    if event == DomainEventType.RESUMED:
        return DomainState.RUNNING, DomainRunningReason.UNPAUSED
    return None


def definition_files(name: str, xml: str) -> str:
    """A shell fragment storing the definition of ``name`` and the xl config made from it,
    which starts use by path (never regenerated or uploaded at start)."""
    cfg = definition_to_config(parse_domain(xml.encode()), "xl")
    return write_file(f"domains/{name}.xml", xml) + write_file(f"domains/{name}.cfg", cfg)


def domain_uuid(xml: str) -> uuidlib.UUID:
    return uuidlib.UUID(parse_domain(xml.encode()).tree().findtext("uuid"))


def start_or_nothing(name: str, command: str, paused: bool) -> str:
    """Shell: run ``command`` (an ``xl create`` or ``xl restore`` with ``-p``) so that it leaves
    domain ``name`` started, or no domain at all, and the script ends with its error.

    ``xl`` creates the domain, then forks the process that watches it; when that process dies
    (emulated dom0s have seen it crash), ``xl`` fails and leaves the domain behind. Created
    paused, it has not run yet, so it is destroyed with nothing to undo. A clash with a domain
    of that name that runs already destroys nothing. Unpaused unless ``paused``."""
    q = quote(name)
    drop = f"xl destroy {q} >/dev/null 2>&1 || :"
    script = (
        f"e=$({command} 2>&1 >/dev/null 9>&-) || {{ s=$?\n"
        f'  case $e in *"already exists"*) ;; *) {drop};; esac\n'
        '  printf "%s\\n" "$e" >&2; exit $s; }\n'
    )
    if not paused:
        script += f"xl unpause {q} 9>&- || {{ s=$?; {drop}; exit $s; }}\n"
    return script


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
        self._reasons: dict[str, tuple[DomainState, int]] = {}  # the last change made here
        self.consoles: list[ConsoleRelay] = []  # the console relays this connection opened
        try:
            self.dom0.probe()
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
        """Running domains and virtkit's records in one round trip: one ``xl list -v``, the
        rest shell builtins (on an emulated dom0 every process started costs). The listing
        changes nothing, so one whose SSH connection dropped is asked once more."""
        script = store("xl list -v; echo @@SPLIT@@\n" + records_script("*"))
        try:
            out = self.dom0.run(script)
        except NoConnectError:
            out = self.dom0.run(script)
        listing, records = out.split("@@SPLIT@@\n", 1)
        return parse_records(_parse_xl_list(listing), records)

    def _record(self, view: HostView, name: str) -> DomainRecord:
        running = view.running.get(name)
        persistent = name in view.defined
        if running is not None:
            state, uid, domid = running.state, running.uuid, running.id
        else:
            state, uid, domid = DomainState.SHUTOFF, domain_uuid(view.defined[name]), -1
        reason_state, reason = self._reasons.get(name, (state, 0))
        return DomainRecord(
            name=name,
            uuid=uid,
            id=domid,
            state=state,
            reason=reason if reason_state == state else 0,
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
        """Report ``event`` and remember the state reason it implies (libvirt's pairing)."""
        reason = _reason_after(event, detail)
        if reason is not None:
            self._reasons[name] = reason
        self.ctx.emit_event(DomainRef(name=name, uuid=uid), event, int(detail))

    # ------------------------------------------------------------------ connection

    def _start_script(self, name: str, xml: str, paused: bool, image: str | None) -> str:
        """Write the xl config of ``xml`` and create the domain, from ``image`` if given."""
        cfg = definition_to_config(parse_domain(xml.encode()), "xl")
        run = f'"$S"/run/{quote(name)}.cfg'
        script = write_file(f"run/{name}.cfg", cfg) + write_file(f"run/{name}.xml", xml)
        command = f"xl restore -p {run} {image}" if image else f"xl create -q -p {run}"
        return script + start_or_nothing(name, command, paused)

    def start_defined(self, name: str, *, paused: bool, force_boot: bool) -> bool:
        """Start defined domain ``name`` from the xl config stored with its definition: from
        its managed save image if it has one (unless ``force_boot``; the image is discarded
        once the domain runs). Returns whether it was restored. One round trip, plus one for
        the definition when extensions watch starts (they may veto)."""
        xml = ""
        if self.ctx.hook.virtkit_domain_hook.get_hookimpls():
            xml = self._defined_xml(name)
            self.ctx.run_domain_hook(HookEvent.PREPARE, name, xml)
            self.ctx.run_domain_hook(HookEvent.START, name, xml)
        boot = start_or_nothing(name, 'xl create -q -p "$d.cfg"', paused)
        resume = start_or_nothing(name, 'xl restore -p "$d.cfg" "$i"', paused)
        script = store(
            f'd="$S"/domains/{quote(name)}; i="$S"/save/{quote(name)}.save\n'
            f'[ -f "$d.cfg" ] || {{ [ -f "$d.xml" ] && exit {_NO_CONFIG}; exit {_NO_DOMAIN}; }}\n'
            # a managed save image is consumed under the store's lock
            'if [ -f "$i" ]; then exec 9>"$S/.lock"; flock 9\n'
            f'{boot if force_boot else resume}rm -f "$i"; echo consumed; exit 0\nfi\n{boot}'
        )
        try:
            restored = self.dom0.run(script).strip() == "consumed" and not force_boot
        except CommandError as exc:
            if exc.status == _NO_DOMAIN:
                raise NoDomainError(
                    f"no domain with matching name '{name}'", domain=ErrorDomain.XEN
                ) from exc
            if exc.status == _NO_CONFIG:  # defined by an older virtkit: store its config
                self.dom0.run(locked(definition_files(name, xml or self._defined_xml(name))))
                return self.start_defined(name, paused=paused, force_boot=force_boot)
            if "already exists" in exc.stderr:
                raise OperationInvalidError(
                    f"domain '{name}' is already running", domain=ErrorDomain.XEN
                ) from exc
            raise
        if xml:
            self.ctx.run_domain_hook(HookEvent.STARTED, name, xml)
        return restored

    def _defined_xml(self, name: str) -> str:
        xml = self.view().defined.get(name)
        if xml is None:
            raise NoDomainError(f"no domain with matching name '{name}'", domain=ErrorDomain.XEN)
        return xml

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
        try:
            _, err = self.dom0.run_capture(command, timeout=timeout)
        except CommandError as exc:
            if "invalid domain identifier" in exc.stderr:
                raise OperationInvalidError(
                    f"domain '{dom.name}' is not running", domain=ErrorDomain.XEN
                ) from exc
            raise
        if quiet and "error" in err:  # e.g. xl unpause of a running domain: status 0
            raise OperationInvalidError(
                f"domain '{dom.name}': {err.strip().splitlines()[-1]}", domain=ErrorDomain.XEN
            )
        return dom

    def _stopped(self, dom: DomainRef, detail: DomainEventStoppedDetail) -> None:
        self._emit(dom.name, dom.uuid, DomainEventType.STOPPED, detail)
        self.ctx.run_domain_hook(HookEvent.STOPPED, dom.name, "")
