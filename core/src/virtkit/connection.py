"""The connection: one driver for one URI, plus the extensions, behind libvirt-python's names."""

from __future__ import annotations

import os
import uuid as uuidlib
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import pluggy

from virtkit.constants import ConnectListAllDomainsFlags as ListFlags
from virtkit.constants import DomainCreateFlags, DomainDefineFlags, DomainState
from virtkit.domain import Domain
from virtkit.driver import DriverContext
from virtkit.errors import (
    ErrorCode,
    InvalidArgumentError,
    NoConnectError,
    NoDomainError,
    NoSupportError,
    ReadOnlyError,
    VirtError,
)
from virtkit.events import EventDispatcher, LifecycleCallback
from virtkit.plugins import (
    DRIVER_GROUP,
    entry_points,
    implemented_hooks,
    load_driver_class,
    load_extensions,
    new_plugin_manager,
)
from virtkit.records import DomainRecord, DomainRef, ProgressCallback
from virtkit.uri import ConnectURI

PROBE_ORDER = ("qemu", "lxc", "xen", "vbox", "test")
"""Local drivers tried, in order, when no URI is given and none is set in the environment."""


def default_uri() -> str:
    """``VIRTKIT_DEFAULT_URI``, else ``LIBVIRT_DEFAULT_URI``, else the first installed local
    driver (in :data:`PROBE_ORDER`) whose ``probe()`` names a URI it can serve here."""
    for var in ("VIRTKIT_DEFAULT_URI", "LIBVIRT_DEFAULT_URI"):
        if value := os.environ.get(var):
            return value
    installed = {ep.name for ep in entry_points(DRIVER_GROUP)}
    for name in PROBE_ORDER:
        if name not in installed:
            continue
        probe = getattr(load_driver_class(name), "probe", None)
        if probe is not None and (uri := probe()):
            return str(uri)
    raise NoConnectError(
        "no connection URI given and none could be chosen: pass one (-c URI), or set "
        "VIRTKIT_DEFAULT_URI"
    )


_ACTIVE, _INACTIVE = int(ListFlags.ACTIVE), int(ListFlags.INACTIVE)
_PERSISTENT, _TRANSIENT = int(ListFlags.PERSISTENT), int(ListFlags.TRANSIENT)
_MANAGEDSAVE, _NO_MANAGEDSAVE = int(ListFlags.MANAGEDSAVE), int(ListFlags.NO_MANAGEDSAVE)
_AUTOSTART, _NO_AUTOSTART = int(ListFlags.AUTOSTART), int(ListFlags.NO_AUTOSTART)
_HAS_SNAPSHOT, _NO_SNAPSHOT = int(ListFlags.HAS_SNAPSHOT), int(ListFlags.NO_SNAPSHOT)
_STATE_FLAGS = {
    DomainState.RUNNING: int(ListFlags.RUNNING),
    DomainState.PAUSED: int(ListFlags.PAUSED),
    DomainState.SHUTOFF: int(ListFlags.SHUTOFF),
}
_OTHER = int(ListFlags.OTHER)
_ANY_STATE = int(ListFlags.RUNNING | ListFlags.PAUSED | ListFlags.SHUTOFF | ListFlags.OTHER)


def _filter_pair(flags: int, yes: int, no: int, value: bool) -> bool:
    """libvirt's filter rule for one pair of flags: none set means no filter."""
    if not flags & (yes | no):
        return True
    return bool(flags & yes and value) or bool(flags & no and not value)


def record_matches(record: DomainRecord, flags: int) -> bool:
    """Whether a domain passes ``list_all_domains`` filter ``flags``."""
    flags = int(flags)
    return (
        (not flags & _ANY_STATE or bool(flags & _STATE_FLAGS.get(record.state, _OTHER)))
        and _filter_pair(flags, _ACTIVE, _INACTIVE, record.active)
        and _filter_pair(flags, _PERSISTENT, _TRANSIENT, record.persistent)
        and _filter_pair(flags, _MANAGEDSAVE, _NO_MANAGEDSAVE, record.managed_save)
        and _filter_pair(flags, _AUTOSTART, _NO_AUTOSTART, record.autostart)
        and _filter_pair(flags, _HAS_SNAPSHOT, _NO_SNAPSHOT, record.snapshot_count > 0)
    )


def _direct_caller(caller: pluggy.HookCaller) -> Callable[..., Any]:
    """A firstresult hook whose one implementation nothing wraps is called directly (pluggy's
    dispatch costs several microseconds a call); any other hook goes through pluggy."""
    impls = caller.get_hookimpls()
    firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
    if not firstresult or len(impls) != 1 or impls[0].wrapper or impls[0].hookwrapper:
        return caller
    function, argnames = impls[0].function, impls[0].argnames

    def call(**kwargs: Any) -> Any:
        return function(*[kwargs[name] for name in argnames])

    return call


class Connection:
    """An open connection to one hypervisor driver (libvirt's ``virConnect``).

    Use :func:`virtkit.open` or :func:`virtkit.open_read_only` to make one; it is a context
    manager that closes itself. Safe to use from several threads.
    """

    def __init__(
        self,
        uri: str | None = None,
        *,
        read_only: bool = False,
        extensions: Iterable[object] = (),
    ) -> None:
        text = uri if uri else default_uri()
        self._uri_text = text
        self._uri = ConnectURI.parse(text)
        self._read_only = read_only
        self._pm = new_plugin_manager()
        self._events = EventDispatcher(self)
        self._closed = False
        driver_cls = load_driver_class(self._uri.driver)
        context = DriverContext(
            uri=self._uri, read_only=read_only, hook=self._pm.hook, emit_event=self._events.emit
        )
        self._driver = driver_cls(context)
        self.driver_name: str = getattr(driver_cls, "name", self._uri.driver)
        try:
            self._pm.register(self._driver, name=f"driver:{self._uri.driver}")
            for name, plugin in [*load_extensions(), *((repr(e), e) for e in extensions)]:
                self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except BaseException as exc:
            if self._pm.is_registered(self._driver):
                self._pm.hook.virtkit_connect_close()  # the driver must not stay half-open
            if isinstance(exc, pluggy.PluginValidationError):
                raise NoConnectError(
                    f"plugin {exc.plugin!r} does not fit virtkit's hook specifications: {exc}"
                ) from exc
            raise
        self._supported = frozenset(implemented_hooks(self._driver))
        self._callers: dict[str, Callable[..., Any]] = {}

    # ------------------------------------------------------------------ plumbing

    def _call(self, hook: str, *, change: bool, **kwargs: Any) -> Any:
        """Call a driver hook after the checks every operation shares."""
        self._check_call(hook, change=change)
        caller = self._callers.get(hook)
        if caller is None:
            caller = self._callers[hook] = _direct_caller(getattr(self._pm.hook, hook))
        return caller(**kwargs)

    def _check_call(self, hook: str, *, change: bool) -> None:
        """Raise the error a call of ``hook`` would get before reaching the driver, if any:
        closed connection, then read-only refusal, then no support (libvirt's order)."""
        if self._closed:
            raise VirtError("the connection is closed", code=ErrorCode.INVALID_CONN)
        if change and self._read_only:
            raise ReadOnlyError(
                f"operation forbidden: read only access prevents {hook.removeprefix('virtkit_')}"
            )
        if hook not in self._supported:
            raise NoSupportError(
                f"this function is not supported by the connection driver: the {self.driver_name} "
                f"driver does not implement {hook.removeprefix('virtkit_')}"
            )

    def supports(self, hook: str) -> bool:
        """Whether the driver implements hook ``virtkit_<operation>`` (or ``<operation>``)."""
        return (hook if hook.startswith("virtkit_") else f"virtkit_{hook}") in self._supported

    def _domain(self, record: DomainRecord | DomainRef) -> Domain:
        return Domain(self, DomainRef(name=record.name, uuid=record.uuid))

    @staticmethod
    def _parse_domain_xml(xml: str) -> Any:
        from virtkit.xml import parse_domain

        return parse_domain(xml)

    @staticmethod
    def _validate_domain_xml(xml: str) -> None:
        """Check ``xml`` against libvirt's RelaxNG schema (see :mod:`virtkit.xml.validate`)."""
        from virtkit.xml import validate

        validate(xml)

    # ------------------------------------------------------------------ connection

    def close(self) -> None:
        """Close the connection; running domains go on unless started with autodestroy."""
        if self._closed:
            return
        try:
            self._pm.hook.virtkit_connect_close()
        finally:
            self._events.close()
            self._closed = True

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def is_alive(self) -> bool:
        return not self._closed

    def is_read_only(self) -> bool:
        return self._read_only

    def get_uri(self) -> str:
        return self._uri_text

    @property
    def uri(self) -> ConnectURI:
        return self._uri

    def get_type(self) -> str:
        """The driver's name (``"QEMU"``, ``"LXC"``, ``"Test"``...)."""
        return self.driver_name

    def get_hostname(self) -> str:
        return str(self._call("virtkit_connect_get_hostname", change=False))

    def get_version(self) -> int:
        return int(self._call("virtkit_connect_get_version", change=False))

    def get_lib_version(self) -> int:
        """virtkit's own version, encoded as libvirt encodes versions."""
        from virtkit import __version__

        major, minor, micro = (int(p) for p in __version__.split(".")[:3])
        return major * 1_000_000 + minor * 1_000 + micro

    def get_capabilities(self) -> str:
        return str(self._call("virtkit_connect_get_capabilities", change=False))

    # ------------------------------------------------------------------ domains

    def list_all_domains(self, flags: int = 0) -> list[Domain]:
        """Every domain passing :class:`ConnectListAllDomainsFlags` filters ``flags``."""
        return [self._domain(r) for r in self.list_all_domain_records(flags)]

    def list_all_domain_records(self, flags: int = 0) -> list[DomainRecord]:
        """Like :meth:`list_all_domains` but returns the records, without further lookups."""
        records: list[DomainRecord] = self._call("virtkit_connect_list_domains", change=False)
        if not flags:
            return records
        return [r for r in records if record_matches(r, flags)]

    def lookup_record(
        self, *, name: str | None = None, uuid: Any = None, id: int | None = None
    ) -> DomainRecord:
        """The current record of one domain (state, id, flags) in one driver call."""
        record = self._find_record(name=name, uuid=uuid, id=id)
        if record is None:
            what = (
                f"name '{name}'"
                if name is not None
                else (f"UUID '{uuid}'" if uuid is not None else f"id {id}")
            )
            raise NoDomainError(f"domain not found: no domain with matching {what}")
        return record

    def _find_record(
        self, *, name: str | None = None, uuid: Any = None, id: int | None = None
    ) -> DomainRecord | None:
        """:meth:`lookup_record`, ``None`` when there is no such domain."""
        record = self._call(
            "virtkit_connect_lookup_domain", change=False, name=name, uuid=uuid, id=id
        )
        assert record is None or isinstance(record, DomainRecord)
        return record

    def lookup_by_name(self, name: str) -> Domain:
        return self._domain(self.lookup_record(name=name))

    def lookup_by_uuid(self, uuid: bytes | uuidlib.UUID) -> Domain:
        value = uuid if isinstance(uuid, uuidlib.UUID) else uuidlib.UUID(bytes=bytes(uuid))
        return self._domain(self.lookup_record(uuid=value))

    def lookup_by_uuid_string(self, uuid: str) -> Domain:
        try:
            value = uuidlib.UUID(uuid)
        except ValueError:
            raise InvalidArgumentError(f"invalid UUID '{uuid}'") from None
        return self._domain(self.lookup_record(uuid=value))

    def lookup_by_id(self, id: int) -> Domain:
        return self._domain(self.lookup_record(id=id))

    def define_xml(self, xml: str, flags: int = 0, *, validate: bool = False) -> Domain:
        """Define (or redefine) a persistent domain from XML; ``validate`` (or the flag
        ``VALIDATE``): first against libvirt's RelaxNG schema (see :mod:`virtkit.xml.validate`)."""
        if validate:
            flags |= DomainDefineFlags.VALIDATE
        self._check_call("virtkit_domain_define", change=True)
        if flags & DomainDefineFlags.VALIDATE:
            self._validate_domain_xml(xml)
        definition = self._parse_domain_xml(xml)
        defined = self._call(
            "virtkit_domain_define", change=True, definition=definition, flags=flags
        )
        return self._domain(defined)

    def create_xml(
        self,
        xml: str,
        flags: int = 0,
        *,
        paused: bool = False,
        autodestroy: bool = False,
        validate: bool = False,
    ) -> Domain:
        """Start a transient domain from XML; ``validate`` (or the flag ``START_VALIDATE``):
        first against libvirt's RelaxNG schema, as :meth:`define_xml`."""
        if paused:
            flags |= DomainCreateFlags.START_PAUSED
        if autodestroy:
            flags |= DomainCreateFlags.START_AUTODESTROY
        if validate:
            flags |= DomainCreateFlags.START_VALIDATE
        self._check_call("virtkit_domain_create_transient", change=True)
        if flags & DomainCreateFlags.START_VALIDATE:
            self._validate_domain_xml(xml)
        definition = self._parse_domain_xml(xml)
        record = self._call(
            "virtkit_domain_create_transient", change=True, definition=definition, flags=flags
        )
        return self._domain(record)

    def restore(
        self,
        path: str,
        xml: str | None = None,
        flags: int = 0,
        *,
        progress: ProgressCallback | None = None,
    ) -> Domain:
        """Start the domain saved in ``path`` (see :meth:`Domain.save`)."""
        record = self._call(
            "virtkit_domain_restore",
            change=True,
            path=os.fspath(path),
            xml=xml,
            flags=flags,
            progress=progress,
        )
        return self._domain(record)

    def domain_xml_from_native(self, native_format: str, native_config: str, flags: int = 0) -> str:
        return str(
            self._call(
                "virtkit_domain_xml_from_native",
                change=False,
                native_format=native_format,
                native_config=native_config,
            )
        )

    def domain_xml_to_native(self, native_format: str, domain_xml: str, flags: int = 0) -> str:
        definition = self._parse_domain_xml(domain_xml)
        return str(
            self._call(
                "virtkit_domain_xml_to_native",
                change=False,
                native_format=native_format,
                definition=definition,
            )
        )

    # ------------------------------------------------------------------ events

    def domain_event_register(
        self, callback: LifecycleCallback, dom: Domain | None = None, opaque: Any = None
    ) -> int:
        """Call ``callback(conn, dom, event, detail, opaque)`` for every lifecycle event (of
        ``dom`` only, if given) from a dispatcher thread; returns an id for deregistering."""
        return self._events.register(callback, dom.uuid() if dom is not None else None, opaque)

    def domain_event_deregister(self, callback_id: int) -> None:
        self._events.deregister(callback_id)


def open(uri: str | None = None, *, extensions: Iterable[object] = ()) -> Connection:  # noqa: A001
    """Open a read-write connection to ``uri`` (see :func:`default_uri` when ``None``).

    ``extensions`` are plugin objects registered on this connection only, next to the installed
    extensions (entry-point group ``virtkit.plugins``): a program's own veto, audit or XML filter.
    """
    return Connection(uri, extensions=extensions)


def open_read_only(uri: str | None = None, *, extensions: Iterable[object] = ()) -> Connection:
    """Open a connection that refuses every change with libvirt's read-only error."""
    return Connection(uri, read_only=True, extensions=extensions)
