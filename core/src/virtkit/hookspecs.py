"""The driver contract and the extension hooks.

A *driver* is one plugin object per connection, created from the entry point of group
``virtkit.drivers`` named after the URI's scheme (``qemu``, ``lxc``, ``test``...). It implements
the ``virtkit_connect_*``, ``virtkit_domain_*``, ``virtkit_snapshot_*`` and ``virtkit_migrate_*``
hooks it supports; the public API (:class:`virtkit.Connection`, :class:`virtkit.Domain`)
raises :class:`virtkit.errors.NoSupportError` naming the driver and operation for every hook
the driver does not implement, so drivers never write "unsupported" stubs.

*Extensions* (entry-point group ``virtkit.plugins``) are registered on every connection's
plugin manager next to its driver. They wrap driver hooks with ``@hookimpl(wrapper=True)``
(veto by raising, rewrite a result after ``yield``), and implement :func:`virtkit_domain_hook`,
which drivers call at the points where libvirt runs its hook scripts.

Rules every driver hook follows:

- Arguments are passed by keyword; an implementation may accept fewer arguments than the spec
  (pluggy passes only the ones it names), so the contract grows by adding keyword arguments.
- The facade has already checked read-only access, argument types and flag combinations that
  do not depend on the driver. Drivers check what depends on the domain's state.
- Failure is an exception from :mod:`virtkit.errors`, raised only after everything the hook
  changed has been put back: a failed hook leaves the domain, its XML, its snapshots and the
  files on disk as they were. A hook that records state (saved config, current snapshot) does so
  only after the hypervisor has done its part.
- Hooks may be called from several threads at once; drivers protect their own state.
- ``dom`` is a :class:`virtkit.records.DomainRef`; a driver that no longer knows it raises
  :class:`virtkit.errors.NoDomainError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

    from virtkit.constants import HookEvent
    from virtkit.hooks import HookDocument
    from virtkit.records import (
        DomainInfo,
        DomainRecord,
        DomainRef,
        JobInfo,
        MigrationOffer,
        MigrationTarget,
        ProgressCallback,
        SnapshotRecord,
    )
    from virtkit.xml import DomainDef, SnapshotDef

PROJECT = "virtkit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

MigrateParams = dict[str, Any]
"""Typed migration parameters with libvirt's names (``bandwidth``, ``destination_xml``,
``listen_address``, ``migrate_uri``, ``max_downtime``...)."""


# --------------------------------------------------------------------------- connection


@hookspec
def virtkit_connect_close() -> None:
    """Release what the connection holds (sockets, threads, locks). Called once, on every
    plugin, when the connection is closed. Domains keep running unless they were started with
    autodestroy on this connection.
    """


@hookspec(firstresult=True)
def virtkit_connect_get_hostname() -> str:
    """Return the name of the host the connection manages."""


@hookspec(firstresult=True)
def virtkit_connect_get_version() -> int:
    """Return the hypervisor's version as ``major * 1_000_000 + minor * 1_000 + micro``."""


@hookspec(firstresult=True)
def virtkit_connect_get_capabilities() -> str:
    """Return the host capabilities XML (libvirt's ``<capabilities>`` document)."""


@hookspec(firstresult=True)
def virtkit_connect_list_domains() -> list[DomainRecord]:
    """Return every domain the connection sees, active and inactive, persistent and transient.

    The facade applies :class:`virtkit.constants.ConnectListAllDomainsFlags` filters to this list.
    """


@hookspec(firstresult=True)
def virtkit_connect_lookup_domain(
    name: str | None, uuid: Any | None, id: int | None
) -> DomainRecord | None:
    """Return the domain with the given ``name``, ``uuid`` (:class:`uuid.UUID`) or ``id``.

    Exactly one of the three is not ``None``. Return ``None`` when there is no such domain (the
    facade raises :class:`virtkit.errors.NoDomainError`).
    """


@hookspec(firstresult=True)
def virtkit_domain_define(definition: DomainDef, flags: int) -> DomainRef | DomainRecord:
    """Make ``definition`` persistent, creating the domain or replacing its inactive config.

    :param definition: the parsed domain XML, as the user wrote it. The driver applies its
        defaults (canonical form) and validation, and refuses what it cannot honour with
        :class:`virtkit.errors.ConfigUnsupportedError` naming the element.
    :param flags: :class:`virtkit.constants.DomainDefineFlags`.
    :returns: the domain's reference (name and UUID) once the definition is on disk; its
        record will do too. The facade needs only its identity.
    :raises DomainExistsError: another domain has the name or UUID.
    """


@hookspec(firstresult=True)
def virtkit_domain_create_transient(definition: DomainDef, flags: int) -> DomainRecord:
    """Start a transient domain from ``definition``: it disappears when it stops.

    :param flags: :class:`virtkit.constants.DomainCreateFlags` (paused, autodestroy...).
    """


@hookspec(firstresult=True)
def virtkit_domain_undefine(dom: DomainRef, flags: int) -> None:
    """Remove the persistent config; an active domain becomes transient.

    :param flags: :class:`virtkit.constants.DomainUndefineFlags`. The facade has already
        refused a domain with snapshots or a managed save image unless the matching flag is set;
        with the flag, the driver removes that metadata or image too.
    """


# --------------------------------------------------------------------------- lifecycle


@hookspec(firstresult=True)
def virtkit_domain_start(dom: DomainRef, flags: int, snapshot: str | None) -> None:
    """Start an inactive persistent domain.

    :param flags: :class:`virtkit.constants.DomainCreateFlags`.
    :param snapshot: name of a snapshot whose saved state the new process loads instead of
        booting; revert passes it down here so that the current snapshot, the saved config and
        the state change only once the new process runs. ``None`` for an ordinary start, which
        resumes from a managed save image when there is one (unless ``START_FORCE_BOOT``).
    :raises OperationInvalidError: the domain is already active.
    """


@hookspec(firstresult=True)
def virtkit_domain_shutdown(dom: DomainRef, flags: int, timeout: float | None) -> None:
    """Ask the guest to shut down (ACPI power button or the driver's equivalent).

    :param flags: :class:`virtkit.constants.DomainShutdownFlags`.
    :param timeout: ``None`` returns once the request is delivered. With a number of seconds,
        wait that long for the domain to stop, then power it off; returns when it is off.
    """


@hookspec(firstresult=True)
def virtkit_domain_destroy(dom: DomainRef, flags: int) -> None:
    """Stop the domain at once (power off). The state becomes shut off, reason destroyed."""


@hookspec(firstresult=True)
def virtkit_domain_reboot(dom: DomainRef, flags: int) -> None:
    """Ask the guest to reboot."""


@hookspec(firstresult=True)
def virtkit_domain_reset(dom: DomainRef) -> None:
    """Reset the domain's virtual hardware at once, like the reset button."""


@hookspec(firstresult=True)
def virtkit_domain_suspend(dom: DomainRef) -> None:
    """Pause the domain's CPUs; the state becomes paused, reason user."""


@hookspec(firstresult=True)
def virtkit_domain_resume(dom: DomainRef) -> None:
    """Resume a paused domain; the state becomes running, reason unpaused."""


@hookspec(firstresult=True)
def virtkit_domain_get_info(dom: DomainRef) -> DomainInfo:
    """Return state, memory, vCPUs and CPU time."""


@hookspec(firstresult=True)
def virtkit_domain_get_xml(dom: DomainRef, flags: int) -> str:
    """Return the domain XML.

    :param flags: :class:`virtkit.constants.DomainXMLFlags`: ``INACTIVE`` for the config the
        next start uses, ``SECURE`` to include passwords, ``MIGRATABLE`` for the form sent to a
        migration destination.
    """


@hookspec(firstresult=True)
def virtkit_domain_set_autostart(dom: DomainRef, autostart: bool) -> None:
    """Mark a persistent domain to be started when the host starts (or ``virtkit autostart-all``
    runs)."""


@hookspec(firstresult=True)
def virtkit_domain_rename(dom: DomainRef, new_name: str, flags: int) -> None:
    """Give the inactive persistent domain another name, keeping its UUID: all its state moves
    to the new name, or none does.

    :param flags: none defined yet (refuse any).
    """


# --------------------------------------------------------------------------- save / restore


@hookspec(firstresult=True)
def virtkit_domain_save(
    dom: DomainRef, path: str, xml: str | None, flags: int, progress: ProgressCallback | None
) -> None:
    """Save the running domain's memory to ``path`` and stop it (reason saved).

    :param xml: an alternative domain XML to store in the image, or ``None``.
    :param flags: :class:`virtkit.constants.DomainSaveRestoreFlags`.
    :param progress: called as the image is written.
    """


@hookspec(firstresult=True)
def virtkit_domain_restore(
    path: str, xml: str | None, flags: int, progress: ProgressCallback | None
) -> DomainRecord:
    """Start a domain from the image at ``path`` written by :func:`virtkit_domain_save`.

    Drivers call :func:`virtkit_domain_hook` with ``HookEvent.RESTORE`` so extensions may
    rewrite the XML stored in the image.
    """


@hookspec(firstresult=True)
def virtkit_domain_managed_save(
    dom: DomainRef, flags: int, progress: ProgressCallback | None
) -> None:
    """Save the running domain to a driver-managed image; the next start resumes from it."""


@hookspec(firstresult=True)
def virtkit_domain_managed_save_remove(dom: DomainRef) -> None:
    """Delete the domain's managed save image."""


# --------------------------------------------------------------------------- console


@hookspec(firstresult=True)
def virtkit_domain_open_console(dom: DomainRef, dev_name: str | None) -> str:
    """Return where the running domain's text console can be reached: the path of a
    pseudo-terminal (``/dev/pts/N``) or of a unix stream socket. ``virtkit console`` attaches
    the user's terminal to it.

    :param dev_name: the alias of a ``<console>`` or ``<serial>`` device; ``None`` for the first.
    :raises OperationInvalidError: the domain is not running or has no such console.
    """


@hookspec(firstresult=True)
def virtkit_domain_lxc_enter_namespace(
    dom: DomainRef, argv: Sequence[str], capture: bool
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` inside the running container, in its cgroups and every one of its
    namespaces (libvirt's ``lxc-enter-namespace``), and wait for it.

    :param capture: collect the program's stdout and stderr into the result (its stdin is then
        empty); otherwise it uses the caller's stdin, stdout and stderr and the result's
        ``stdout`` and ``stderr`` are ``None``.
    :returns: the exit status (128 + N when killed by signal N) and the captured output.
    :raises OperationInvalidError: the domain is not running.
    :raises OperationFailedError: the program could not be started inside.
    """


# --------------------------------------------------------------------------- snapshots


@hookspec(firstresult=True)
def virtkit_snapshot_create(dom: DomainRef, definition: SnapshotDef, flags: int) -> str:
    """Take (or, with ``REDEFINE``, import the metadata of) a snapshot; return its name.

    :param definition: the parsed ``<domainsnapshot>`` XML.
    :param flags: :class:`virtkit.constants.DomainSnapshotCreateFlags`.
    """


@hookspec(firstresult=True)
def virtkit_snapshot_list(dom: DomainRef) -> list[SnapshotRecord]:
    """Return every snapshot of the domain with its parent; the facade walks the tree."""


@hookspec(firstresult=True)
def virtkit_snapshot_get_xml(dom: DomainRef, name: str, flags: int) -> str:
    """Return the snapshot's XML. :raises NoSnapshotError: unknown name."""


@hookspec(firstresult=True)
def virtkit_snapshot_revert(dom: DomainRef, name: str, flags: int) -> None:
    """Bring the domain back to the snapshot's state and make it the current snapshot.

    :param flags: :class:`virtkit.constants.DomainSnapshotRevertFlags`.

    When a new process must be started, the driver passes the snapshot down to its start
    routine (:func:`virtkit_domain_start` with ``snapshot=name``) and changes the current
    snapshot, saved config and state only once that process runs. A failure leaves all of them,
    and the disks, as they were.
    """


@hookspec(firstresult=True)
def virtkit_snapshot_delete(dom: DomainRef, name: str, flags: int) -> None:
    """Delete the snapshot.

    :param flags: :class:`virtkit.constants.DomainSnapshotDeleteFlags`: ``CHILDREN`` deletes its
        descendants too, ``CHILDREN_ONLY`` only them, ``METADATA_ONLY`` keeps the data. Children of
        a deleted snapshot are re-parented to its parent; deleting the current snapshot makes its
        parent current.
    """


# --------------------------------------------------------------------------- migration


@hookspec(firstresult=True)
def virtkit_migrate_begin(dom: DomainRef, flags: int, params: MigrateParams) -> MigrationOffer:
    """Source, phase 1: check the domain can migrate; return the migratable XML and a cookie.

    Extensions rewrite the XML the destination receives by wrapping this hook (libvirt's
    ``migrate`` hook-script operation).
    """


@hookspec(firstresult=True)
def virtkit_migrate_prepare(
    offer: MigrationOffer, flags: int, params: MigrateParams
) -> MigrationTarget:
    """Destination, phase 2: check the XML, then make ready to receive (e.g. a process waiting
    for the incoming stream). Leaves nothing behind if it fails.
    """


@hookspec(firstresult=True)
def virtkit_migrate_perform(
    dom: DomainRef,
    target: MigrationTarget,
    flags: int,
    params: MigrateParams,
    progress: ProgressCallback | None,
) -> bytes:
    """Source, phase 3: send the domain to ``target.uri``; return a cookie for *finish*.

    Raise to fail the migration; the facade then calls *finish* and *confirm* with
    ``cancelled=True`` so both sides roll back.
    """


@hookspec(firstresult=True)
def virtkit_migrate_finish(
    name: str, cookie: bytes, flags: int, params: MigrateParams, cancelled: bool
) -> DomainRecord | None:
    """Destination, phase 4: resume (or keep paused) the received domain and persist it when
    ``PERSIST_DEST`` is set; return its record. With ``cancelled`` clean up and return ``None``.
    """


@hookspec(firstresult=True)
def virtkit_migrate_confirm(
    dom: DomainRef, cookie: bytes, flags: int, params: MigrateParams, cancelled: bool
) -> None:
    """Source, phase 5: stop the migrated domain (and undefine it with ``UNDEFINE_SOURCE``), or,
    with ``cancelled``, let it run on as before.
    """


@hookspec(firstresult=True)
def virtkit_domain_get_job_info(dom: DomainRef, completed: bool) -> JobInfo:
    """Return the running job's progress, or with ``completed`` the statistics of the last one."""


@hookspec(firstresult=True)
def virtkit_domain_abort_job(dom: DomainRef) -> None:
    """Cancel the running job; the operation running it fails with ``OperationAbortedError``."""


# --------------------------------------------------------------------------- native formats


@hookspec(firstresult=True)
def virtkit_domain_xml_from_native(native_format: str, native_config: str) -> str:
    """Convert a hypervisor-native configuration (``xen-xl``, ``vmware-vmx``, ``lxc-tools``...)
    to domain XML. :raises InvalidArgumentError: the format is not one this driver knows.
    """


@hookspec(firstresult=True)
def virtkit_domain_xml_to_native(native_format: str, definition: DomainDef) -> str:
    """Convert domain XML to a native configuration (``qemu-argv``, ``xen-xl``...)."""


# --------------------------------------------------------------------------- extensions


@hookspec
def virtkit_domain_hook(event: HookEvent, name: str, document: HookDocument) -> None:
    """Called by drivers where libvirt runs its domain hook scripts.

    :param event: ``PREPARE`` and ``START`` before a domain starts, ``STARTED`` once it runs,
        ``STOPPED`` and ``RELEASE`` after it stopped, ``MIGRATE`` on the destination before it
        receives, ``RESTORE`` before a saved image starts.
    :param name: the domain's name.
    :param document: holds the domain XML as ``document.xml``. At ``MIGRATE`` and ``RESTORE`` an
        extension may assign a new XML to it; later extensions see the change.

    Raising :class:`virtkit.errors.HookVetoError` (or any exception) at ``PREPARE``, ``START``,
    ``MIGRATE`` or ``RESTORE`` makes the operation fail with nothing started; exceptions at the
    other events are logged and ignored, as libvirt does.
    """
