"""Test driver hooks: save to a file, restore from it, and the managed save image.

A save image is a small text file: a magic line, the state to resume in, then the domain XML.
It is written to a temporary file next to the target and renamed into place, so a failed save
leaves no partial image and the domain running.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import TYPE_CHECKING

from virtkit.constants import (
    DomainEventStartedDetail,
    DomainEventStoppedDetail,
    DomainEventSuspendedDetail,
    DomainJobType,
    DomainRunningReason,
    DomainSaveRestoreFlags,
    DomainShutoffReason,
    DomainState,
    HookEvent,
)
from virtkit.drivers.test.lifecycle import LifecycleHooks
from virtkit.drivers.test.state import TestDomain, parse_definition
from virtkit.errors import (
    HostSystemError,
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
)
from virtkit.hookspecs import hookimpl
from virtkit.records import DomainRecord, DomainRef, JobInfo, Progress, ProgressCallback

if TYPE_CHECKING:
    from virtkit.xml import DomainDef

MAGIC = "virtkit-test-save-image 1"


def _resume_paused(flags: int, was_paused: bool) -> bool:
    if flags & DomainSaveRestoreFlags.RUNNING:
        return False
    return bool(flags & DomainSaveRestoreFlags.PAUSED) or was_paused


def _write_image(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".virtkit-save-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        raise HostSystemError(f"cannot write save image '{path}': {exc.strerror or exc}") from exc


def _read_image(path: str) -> tuple[bool, str]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise HostSystemError(f"cannot read save image '{path}': {exc}") from exc
    magic, _, rest = text.partition("\n")
    state, _, xml = rest.partition("\n")
    if magic != MAGIC or state not in ("running", "paused"):
        raise OperationFailedError(f"'{path}' is not a save image of the test driver")
    return state == "paused", xml


class SavingHooks(LifecycleHooks):
    """Save, restore and managed save."""

    def _saved(
        self, domain: TestDomain, started: float, size: int, progress: ProgressCallback | None
    ) -> None:
        """Stop ``domain`` as saved and record the finished job."""
        if progress is not None:
            progress(Progress(operation="save", processed=size, total=size))
        self.stop(domain, DomainShutoffReason.SAVED, DomainEventStoppedDetail.SAVED)
        domain.last_job = JobInfo(
            type=DomainJobType.COMPLETED,
            operation="save",
            time_elapsed=int((time.monotonic() - started) * 1000),
            data_total=size,
            data_processed=size,
        )

    def _image_definition(self, dom: DomainRef, xml: str | None, current: DomainDef) -> DomainDef:
        """The definition a save image stores: ``xml`` if given (same domain), else ``current``."""
        if xml is None:
            return current
        definition = parse_definition(xml)
        if definition.name != dom.name or definition.uuid not in (None, dom.uuid):
            raise InvalidArgumentError(
                f"the XML for the save image describes domain '{definition.name}' "
                f"({definition.uuid}), not '{dom.name}' ({dom.uuid})"
            )
        return definition if definition.uuid else definition.with_identity(uuid=dom.uuid)

    @hookimpl
    def virtkit_domain_save(
        self,
        dom: DomainRef,
        path: str,
        xml: str | None,
        flags: int,
        progress: ProgressCallback | None,
    ) -> None:
        started = time.monotonic()
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            definition = self._image_definition(dom, xml, domain.definition)
            paused = _resume_paused(flags, domain.state == DomainState.PAUSED)
            image = f"{MAGIC}\n{'paused' if paused else 'running'}\n{definition.to_xml()}"
            _write_image(path, image)
            self._saved(domain, started, len(image), progress)

    @hookimpl
    def virtkit_domain_restore(
        self, path: str, xml: str | None, flags: int, progress: ProgressCallback | None
    ) -> DomainRecord:
        was_paused, stored = _read_image(path)
        with self.node.lock:
            definition = parse_definition(xml if xml is not None else stored)
            rewritten = self.hook(HookEvent.RESTORE, definition.name, definition)
            if rewritten is not None:
                definition = parse_definition(rewritten)
            domain, definition, ref = self._claim(definition, live=True)
            if domain is not None and domain.active:
                raise OperationInvalidError(
                    f"Requested operation is not valid: domain '{ref.name}' is already active"
                )
            self.prepare_start(ref.name, definition)
            if domain is None:
                domain = TestDomain(ref=ref, config=definition, persistent=False)
                self.node.add(domain)
            self.commit_start(
                domain,
                definition,
                reason=DomainRunningReason.RESTORED,
                detail=DomainEventStartedDetail.RESTORED,
                paused=_resume_paused(flags, was_paused),
                paused_detail=DomainEventSuspendedDetail.RESTORED,
            )
            if progress is not None:
                progress(Progress(operation="restore", processed=1, total=1))
            return domain.record

    @hookimpl
    def virtkit_domain_managed_save(
        self, dom: DomainRef, flags: int, progress: ProgressCallback | None
    ) -> None:
        started = time.monotonic()
        with self.node.lock:
            domain = self.node.get(dom)
            self.require_active(domain)
            if not domain.persistent:
                raise OperationInvalidError(
                    f"Requested operation is not valid: cannot do managed save for transient "
                    f"domain '{dom.name}'"
                )
            domain.managed_save = domain.definition
            domain.managed_save_paused = _resume_paused(flags, domain.state == DomainState.PAUSED)
            self._saved(domain, started, len(domain.definition.to_xml()), progress)

    @hookimpl
    def virtkit_domain_managed_save_remove(self, dom: DomainRef) -> None:
        with self.node.lock:
            domain = self.node.get(dom)
            domain.managed_save = None
            domain.refresh()
