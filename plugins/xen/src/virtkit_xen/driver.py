"""The Xen driver: domains run by the ``xl`` toolstack of a dom0, reached locally
(``xen:///system``) or over SSH (``xen+ssh://root@host[:port]/system``).

A domain started by virtkit is created from the ``xen-xl`` form of its definition; its
definition, managed save image and snapshots live in virtkit's store on the dom0
(:mod:`virtkit_xen.store`). Each operation is one shell script on the dom0, one SSH round trip.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from typing import Any, ClassVar

import attrs
import virtkit
from virtkit.constants import DomainCreateFlags as Create
from virtkit.constants import (
    DomainDefineFlags,
    DomainDestroyFlags,
    DomainEventDefinedDetail,
    DomainEventResumedDetail,
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainEventType,
    DomainEventUndefinedDetail,
    DomainRebootFlags,
    DomainSaveRestoreFlags,
    DomainShutdownFlags,
    DomainState,
    DomainXMLFlags,
)
from virtkit.constants import DomainUndefineFlags as Undefine
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    ErrorDomain,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.flags import refuse_flags
from virtkit.records import DomainInfo, DomainRecord, DomainRef, ProgressCallback
from virtkit.xml import Context, DomainDef, canonical, format_domain, parse_domain

from virtkit_xen.base import Running, definition_files, domain_uuid, parse_records, records_script
from virtkit_xen.console import ConsoleRelay
from virtkit_xen.fromnative import native_to_xml
from virtkit_xen.migration import MigrationMixin
from virtkit_xen.remote import quote
from virtkit_xen.snapshots import SnapshotMixin
from virtkit_xen.store import locked, remove, store, write_file
from virtkit_xen.tonative import definition_to_config

NATIVE_FORMATS = ("xen-xl", "xen-xm")


DRIVER = "Xen"
"""The driver's name in the errors of :func:`~virtkit.flags.refuse_flags`."""


def _refuse_other_xml(xml: str | None, operation: str) -> None:
    """xl saves and restores a domain with the configuration it has: another XML is refused."""
    if xml is not None:
        raise ConfigUnsupportedError(
            f"the {DRIVER} driver does not support {operation} with another domain XML"
        )


class XenDriver(SnapshotMixin, MigrationMixin):
    """Driver plugin for the ``xen`` URI scheme."""

    name: ClassVar[str] = "Xen"

    @virtkit.hookimpl
    def virtkit_connect_close(self) -> None:
        for relay in self.consoles:
            relay.close()
        self.dom0.close()

    @virtkit.hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return self.dom0.run("hostname").strip()

    @virtkit.hookimpl
    def virtkit_connect_get_version(self) -> int:
        info = self._xl_info()
        return int(info.get("xen_major", 0)) * 1_000_000 + int(info.get("xen_minor", 0)) * 1_000

    def _xl_info(self) -> dict[str, str]:
        info = self.dom0.run("xl info")
        return {
            k.strip(): v.strip()
            for k, v in (ln.split(":", 1) for ln in info.splitlines() if ":" in ln)
        }

    @virtkit.hookimpl
    def virtkit_connect_get_capabilities(self) -> str:
        caps = self._xl_info()
        guests = "".join(
            f"  <guest>\n    <os_type>{t}</os_type>\n"
            "    <arch name='x86_64'><domain type='xen'/></arch>\n  </guest>\n"
            for t in ("xen", "xenpvh", "hvm")
            if t != "hvm" or "hvm" in caps.get("virt_caps", "")
        )
        return (
            f"<capabilities>\n  <host>\n    <cpu><arch>x86_64</arch></cpu>\n  </host>\n{guests}"
            "</capabilities>\n"
        )

    @virtkit.hookimpl
    def virtkit_connect_list_domains(self) -> list[DomainRecord]:
        view = self.view()
        return [self._record(view, name) for name in sorted(set(view.running) | set(view.defined))]

    @virtkit.hookimpl
    def virtkit_connect_lookup_domain(
        self, name: str | None, uuid: Any | None, id: int | None
    ) -> DomainRecord | None:
        for record in self.virtkit_connect_list_domains():
            if (
                (name is not None and record.name == name)
                or (uuid is not None and record.uuid == uuid)
                or (id is not None and record.id == id and id >= 0)
            ):
                return record
        return None

    # ------------------------------------------------------------------ definitions

    def _canonical(self, definition: DomainDef) -> DomainDef:
        if definition.tree().get("type") != "xen":
            raise ConfigUnsupportedError(
                f"domain type '{definition.tree().get('type')}' is not supported by the Xen "
                "driver (use type='xen')"
            )
        if not definition.tree().findtext("uuid"):
            root = definition.tree()
            from lxml import etree

            etree.SubElement(root, "uuid").text = str(uuidlib.uuid4())
            definition = parse_domain(etree.tostring(root))
        result = canonical(definition, context=Context(inactive=True))
        definition_to_config(result, "xl")  # refuses what xl cannot express
        return result

    @virtkit.hookimpl
    def virtkit_domain_define(self, definition: DomainDef, flags: int) -> DomainRecord:
        refuse_flags(flags, DomainDefineFlags.VALIDATE, "define", DRIVER)  # (validated before)
        definition = self._canonical(definition)
        root = definition.tree()
        name, uid = root.findtext("name") or "", uuidlib.UUID(root.findtext("uuid"))
        view = self.view()
        for other, xml in view.defined.items():
            if other != name and domain_uuid(xml) == uid:
                raise DomainExistsError(
                    f"domain '{other}' already has UUID {uid}", domain=ErrorDomain.XEN
                )
        existing = view.defined.get(name)
        if existing is not None and domain_uuid(existing) != uid:
            raise DomainExistsError(
                f"domain '{name}' already exists with UUID {domain_uuid(existing)}",
                domain=ErrorDomain.XEN,
            )
        running = view.running.get(name)
        if running is not None and running.uuid != uid:
            raise DomainExistsError(
                f"domain '{name}' is running with UUID {running.uuid}", domain=ErrorDomain.XEN
            )
        xml = format_domain(definition, inactive=True, secure=True)
        self.dom0.run(locked(definition_files(name, xml)))
        detail = DomainEventDefinedDetail.UPDATED if existing else DomainEventDefinedDetail.ADDED
        self._emit(name, uid, DomainEventType.DEFINED, detail)
        view = attrs.evolve(view, defined={**view.defined, name: xml})
        return self._record(view, name)

    @virtkit.hookimpl
    def virtkit_domain_undefine(self, dom: DomainRef, flags: int) -> None:
        supported = Undefine.MANAGED_SAVE | Undefine.SNAPSHOTS_METADATA | Undefine.KEEP_NVRAM
        refuse_flags(flags, supported, "undefine", DRIVER)
        view, record = self._find(dom)
        if not record.persistent:
            raise OperationInvalidError(f"domain '{dom.name}' is transient", domain=ErrorDomain.XEN)
        script = "".join(remove(f"domains/{dom.name}.{ext}") for ext in ("xml", "cfg", "autostart"))
        if flags & Undefine.MANAGED_SAVE:
            script += remove(f"save/{dom.name}.save")
        if flags & Undefine.SNAPSHOTS_METADATA:
            script += remove(f"snapshots/{dom.name}")
        self.dom0.run(locked(script))
        self._emit(
            dom.name, record.uuid, DomainEventType.UNDEFINED, DomainEventUndefinedDetail.REMOVED
        )

    @virtkit.hookimpl
    def virtkit_domain_set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        _, record = self._find(dom)
        if not record.persistent:
            raise OperationInvalidError(
                "cannot set autostart for a transient domain", domain=ErrorDomain.XEN
            )
        path = f"domains/{dom.name}.autostart"
        self.dom0.run(locked(write_file(path, "1\n") if autostart else remove(path)))

    # ------------------------------------------------------------------ lifecycle

    @virtkit.hookimpl
    def virtkit_domain_start(self, dom: DomainRef, flags: int, snapshot: str | None) -> None:
        refuse_flags(flags, Create.START_PAUSED | Create.START_FORCE_BOOT, "start", DRIVER)
        paused = bool(flags & Create.START_PAUSED)
        if snapshot is not None:
            view, record = self._find(dom)
            if record.state != DomainState.SHUTOFF:
                raise OperationInvalidError(
                    f"domain '{dom.name}' is already running", domain=ErrorDomain.XEN
                )
            self.start_from_snapshot(view, dom.name, snapshot, paused=paused)
            self._emit(
                dom.name, dom.uuid, DomainEventType.STARTED, DomainEventStartedDetail.FROM_SNAPSHOT
            )
            return
        force_boot = bool(flags & Create.START_FORCE_BOOT)
        restored = self.start_defined(dom.name, paused=paused, force_boot=force_boot)
        detail = DomainEventStartedDetail.RESTORED if restored else DomainEventStartedDetail.BOOTED
        self._emit(dom.name, dom.uuid, DomainEventType.STARTED, detail)
        if paused:
            self._emit(
                dom.name, dom.uuid, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED
            )

    @virtkit.hookimpl
    def virtkit_domain_create_transient(self, definition: DomainDef, flags: int) -> DomainRecord:
        refuse_flags(flags, Create.START_PAUSED | Create.START_VALIDATE, "create", DRIVER)
        definition = self._canonical(definition)
        root = definition.tree()
        name = root.findtext("name") or ""
        view = self.view()
        if name in view.running or name in view.defined:
            raise DomainExistsError(f"domain '{name}' already exists", domain=ErrorDomain.XEN)
        xml = format_domain(definition, inactive=True, secure=True)
        paused = bool(flags & Create.START_PAUSED)
        self.start_domain(name, xml, paused=paused, image=None)
        _, record = self._find(DomainRef(name=name, uuid=uuidlib.UUID(root.findtext("uuid"))))
        self._emit(name, record.uuid, DomainEventType.STARTED, DomainEventStartedDetail.BOOTED)
        return record

    @virtkit.hookimpl
    def virtkit_domain_shutdown(self, dom: DomainRef, flags: int, timeout: float | None) -> None:
        refuse_flags(flags, DomainShutdownFlags.PARAVIRT, "shutdown", DRIVER)  # what xl does
        name = quote(dom.name)
        if timeout is None:
            self._act(dom, f"xl shutdown {name}")
            return
        running = self._act(
            dom,
            f"timeout {max(1, int(timeout))} xl shutdown -w {name} >/dev/null 2>&1 || "
            f"{{ xl destroy {name} 2>/dev/null || true; }}",
            timeout=timeout + 60,
        )
        self._stopped(running, DomainEventStoppedDetail.SHUTDOWN)

    @virtkit.hookimpl
    def virtkit_domain_destroy(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainDestroyFlags.DEFAULT, "destroy", DRIVER)
        running = self._act(dom, f"xl destroy {quote(dom.name)}")
        self._stopped(running, DomainEventStoppedDetail.DESTROYED)

    @virtkit.hookimpl
    def virtkit_domain_reboot(self, dom: DomainRef, flags: int) -> None:
        refuse_flags(flags, DomainRebootFlags.PARAVIRT, "reboot", DRIVER)
        self._act(dom, f"xl reboot {quote(dom.name)}")

    @virtkit.hookimpl
    def virtkit_domain_suspend(self, dom: DomainRef) -> None:
        running = self._act(dom, f"xl pause {quote(dom.name)}")
        self._emit(
            dom.name, running.uuid, DomainEventType.SUSPENDED, DomainEventSuspendedDetail.PAUSED
        )

    @virtkit.hookimpl
    def virtkit_domain_resume(self, dom: DomainRef) -> None:
        running = self._act(dom, f"xl unpause {quote(dom.name)}", quiet=True)
        self._emit(
            dom.name, running.uuid, DomainEventType.RESUMED, DomainEventResumedDetail.UNPAUSED
        )

    @virtkit.hookimpl
    def virtkit_domain_open_console(self, dom: DomainRef, dev_name: str | None) -> str:
        """A local unix socket relayed to ``xl console`` of the running domain: ``console0``
        (the first, default) is its PV console, ``serial0`` the emulated serial port."""
        kinds = {None: "", "console0": "-t pv ", "serial0": "-t serial "}
        if dev_name not in kinds:
            raise OperationInvalidError(
                f"domain '{dom.name}' has no console '{dev_name}' (use console0 or serial0)",
                domain=ErrorDomain.XEN,
            )
        _, record = self._find(dom)
        if record.state == DomainState.SHUTOFF:
            raise OperationInvalidError(
                f"domain '{dom.name}' is not running", domain=ErrorDomain.XEN
            )
        # xl's console client locks a file in /var/lock, which a minimal dom0 may lack
        command = (
            '[ -d /var/lock ] || mkdir -p "$(realpath -m /var/lock)"; '
            f"exec xl console {kinds[dev_name]}{quote(dom.name)}"
        )
        relay = ConsoleRelay(self.dom0.terminal_argv(command))
        self.consoles.append(relay)
        return relay.path

    @virtkit.hookimpl
    def virtkit_domain_get_info(self, dom: DomainRef) -> DomainInfo:
        view, record = self._find(dom)
        running = view.running.get(dom.name)
        root = (
            parse_domain(view.defined[dom.name].encode()).tree()
            if dom.name in view.defined
            else None
        )
        max_kib = int(root.findtext("memory") or 0) if root is not None else 0
        if running is not None:
            return DomainInfo(
                state=running.state,
                max_memory_kib=max(max_kib, running.memory_mib * 1024),
                memory_kib=running.memory_mib * 1024,
                vcpus=running.vcpus,
                cpu_time_ns=int(running.cpu_seconds * 1e9),
            )
        assert root is not None
        return DomainInfo(
            state=DomainState.SHUTOFF,
            max_memory_kib=max_kib,
            memory_kib=int(root.findtext("currentMemory") or max_kib),
            vcpus=int(root.findtext("vcpu") or 1),
            cpu_time_ns=0,
        )

    @virtkit.hookimpl
    def virtkit_domain_get_xml(self, dom: DomainRef, flags: int) -> str:
        supported = DomainXMLFlags.INACTIVE | DomainXMLFlags.SECURE | DomainXMLFlags.MIGRATABLE
        refuse_flags(flags, supported, "getting a domain's XML", DRIVER)
        view, record = self._find(dom)
        xml = view.defined.get(dom.name)
        if xml is None:  # a transient domain: the definition it was started from
            xml = self.dom0.run(locked(f'cat "$S"/run/{quote(dom.name)}.xml'))
        definition = parse_domain(xml.encode())
        inactive = bool(flags & DomainXMLFlags.INACTIVE) or record.state == DomainState.SHUTOFF
        return format_domain(
            definition,
            inactive=inactive,
            secure=bool(flags & DomainXMLFlags.SECURE),
            migratable=bool(flags & DomainXMLFlags.MIGRATABLE),
            id=None if inactive else record.id,
        )

    # ------------------------------------------------------------------ save / restore

    @virtkit.hookimpl
    def virtkit_domain_save(
        self,
        dom: DomainRef,
        path: str,
        xml: str | None,
        flags: int,
        progress: ProgressCallback | None,
    ) -> None:
        refuse_flags(flags, DomainSaveRestoreFlags.NONE, "save", DRIVER)  # xl keeps no state
        _refuse_other_xml(xml, "save")
        running = self._act(dom, f"xl save {quote(dom.name)} {quote(path)} >/dev/null")
        self._stopped(running, DomainEventStoppedDetail.SAVED)

    @virtkit.hookimpl
    def virtkit_domain_restore(
        self, path: str, xml: str | None, flags: int, progress: ProgressCallback | None
    ) -> DomainRecord:
        supported = DomainSaveRestoreFlags.RUNNING | DomainSaveRestoreFlags.PAUSED
        refuse_flags(flags, supported, "restore", DRIVER)
        _refuse_other_xml(xml, "restore")
        paused = bool(flags & DomainSaveRestoreFlags.PAUSED)
        image = quote(path)
        # one round trip: the domain's name and UUID come from the image's header (xl's JSON
        # domain config, matched by bash), its new id from xl's report of the restore
        out, err = self.dom0.run_capture(
            store(
                f"[ -f {image} ] || {{ echo no save image at {image} >&2; exit 1; }}\n"
                f"IFS= read -r -N 1024 h < {image} || :; n=- u=-\n"
                '[[ $h =~ \\"name\\":\\ \\"([^\\"]+)\\" ]] && n=${BASH_REMATCH[1]}\n'
                '[[ $h =~ \\"uuid\\":\\ \\"([^\\"]+)\\" ]] && u=${BASH_REMATCH[1]}\n'
                f"xl -v restore {'-p ' if paused else ''}{image} >/dev/null\n"
                'echo "$n $u"; echo @@SPLIT@@\n' + records_script('"$n"')
            )
        )
        header, records = out.split("@@SPLIT@@\n", 1)
        name, uid = header.split()
        domid = re.search(r"\bdom (\d+), hvm", err)
        if name != "-" and uid != "-" and domid:
            state = DomainState.PAUSED if paused else DomainState.RUNNING
            # a record needs no memory or CPU figures: those stay zero
            running = Running(name, int(domid.group(1)), 0, 0, state, 0.0, uuidlib.UUID(uid))
            view = parse_records({name: running}, records)
        else:  # an image without xl's JSON header: look the domain up
            view = self.view()
            name = next(
                (r.name for r in view.running.values() if domid and r.id == int(domid.group(1))),
                name,
            )
            if name not in view.running:
                raise OperationFailedError(
                    f"restoring {path} started no domain virtkit can find", domain=ErrorDomain.XEN
                )
        record = self._record(view, name)
        self._emit(
            record.name, record.uuid, DomainEventType.STARTED, DomainEventStartedDetail.RESTORED
        )
        return record

    @virtkit.hookimpl
    def virtkit_domain_managed_save(
        self, dom: DomainRef, flags: int, progress: ProgressCallback | None
    ) -> None:
        refuse_flags(flags, DomainSaveRestoreFlags.NONE, "managed save", DRIVER)
        image = f'"$S"/save/{quote(dom.name)}.save'
        running = self._act(
            dom,
            locked(
                f'[ -f "$S"/domains/{quote(dom.name)}.xml ] || '
                '{ echo "transient: no managed save" >&2; exit 91; }\n'
                f"xl save {quote(dom.name)} {image}.tmp >/dev/null && mv -f {image}.tmp {image}"
            ),
        )
        self._stopped(running, DomainEventStoppedDetail.SAVED)

    @virtkit.hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> None:
        self._find(dom)
        self.dom0.run(locked(remove(f"save/{dom.name}.save")))

    # ------------------------------------------------------------------ native formats

    @virtkit.hookimpl
    def virtkit_domain_xml_from_native(self, native_format: str, native_config: str) -> str:
        if native_format not in NATIVE_FORMATS:
            raise InvalidArgumentError(
                f"unsupported config type {native_format} (use one of {', '.join(NATIVE_FORMATS)})"
            )
        return native_to_xml(native_config, "xl" if native_format == "xen-xl" else "xm")

    @virtkit.hookimpl
    def virtkit_domain_xml_to_native(self, native_format: str, definition: DomainDef) -> str:
        if native_format not in NATIVE_FORMATS:
            raise InvalidArgumentError(
                f"unsupported config type {native_format} (use one of {', '.join(NATIVE_FORMATS)})"
            )
        return definition_to_config(definition, "xl" if native_format == "xen-xl" else "xm")
