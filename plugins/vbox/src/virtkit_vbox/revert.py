"""Restoring a snapshot (and starting the machine) so that a failure leaves everything as it was.

``VBoxManage snapshot restore`` discards the machine's unsnapshotted state and makes the target
current; nothing brings that back afterwards. So, before the restore, the current state is kept
in a temporary snapshot (taken while the machine runs, so its memory is kept too). When every
step has worked, the temporary snapshot is deleted. When one fails, the temporary snapshot is
restored and deleted: the machine gets back its state, and deleting the current snapshot makes
its parent — the snapshot current before — current again (VirtualBox manual, "Snapshots").
A machine that was running is then started again.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from typing import NoReturn, Protocol

from virtkit.errors import ErrorDomain, OperationFailedError, VirtError

from virtkit_vbox.snapshots import TEMPORARY_PREFIX
from virtkit_vbox.states import is_active

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What :class:`virtkit_vbox.manage.VBoxManage` offers: run a command, read its output."""

    def run(self, *args: str) -> str: ...

    def machinereadable(self, *args: str) -> dict[str, str]: ...


def restore_snapshot(
    manage: Runner, info: dict[str, str], target: str, *, start: bool, pause: bool, action: str
) -> None:
    """Restore snapshot ``target`` of the machine ``info`` (``showvminfo`` values), powering it
    off first when it runs; then start it when ``start`` (and pause it when ``pause``).

    ``action`` names the operation in errors (``reverting 'web' to snapshot 'base'``). On a
    failure the machine is put back as it was and the error says what failed; if that rollback
    fails too, the error names the temporary snapshot that holds the earlier state.
    """
    uuid = info["UUID"]
    was = info.get("VMState", "")
    keep = TEMPORARY_PREFIX + uuidlib.uuid4().hex
    take = ["snapshot", uuid, "take", keep, "--description"]
    take.append(f"made by virtkit while {action}; removed when that ends")
    if is_active(was):
        take.append("--live")
    manage.run(*take)  # when this fails, nothing has changed
    try:
        if is_active(was):
            manage.run("controlvm", uuid, "poweroff")
        manage.run("snapshot", uuid, "restore", target)
        if start:
            _start(manage, uuid, pause)
    except VirtError as exc:
        _roll_back(manage, info, keep, action, exc)
    try:
        manage.run("snapshot", uuid, "delete", keep)
    except VirtError as exc:  # the revert itself is done; only a leftover remains
        log.warning(
            "%s worked, but the temporary snapshot '%s' could not be deleted (%s): "
            "'VBoxManage snapshot %s delete %s' removes it",
            action,
            keep,
            exc.message,
            uuid,
            keep,
        )


def _start(manage: Runner, uuid: str, pause: bool) -> None:
    """``startvm``, then pause the machine when ``pause`` (unless it came up paused)."""
    manage.run("startvm", uuid, "--type", "headless")
    if pause and manage.machinereadable("showvminfo", uuid).get("VMState") != "paused":
        manage.run("controlvm", uuid, "pause")


def _roll_back(
    manage: Runner, info: dict[str, str], keep: str, action: str, failure: VirtError
) -> NoReturn:
    """Bring back the state kept in snapshot ``keep``, delete it, start the machine again if
    it was running; raise the error that says what failed (and what the rollback did)."""
    uuid, name, was = info["UUID"], info["name"], info.get("VMState", "")
    try:
        if is_active(manage.machinereadable("showvminfo", uuid).get("VMState", "")):
            manage.run("controlvm", uuid, "poweroff")
        manage.run("snapshot", uuid, "restore", keep)
        manage.run("snapshot", uuid, "delete", keep)
    except VirtError as undo:
        raise OperationFailedError(
            f"{action} failed ({failure.message}), and putting '{name}' back as it was failed "
            f"too ({undo.message}): its earlier state is in the temporary snapshot '{keep}'; "
            f"'VBoxManage snapshot {uuid} restore {keep}' brings it back, "
            f"'VBoxManage snapshot {uuid} delete {keep}' then removes the snapshot",
            domain=ErrorDomain.VBOX,
        ) from failure
    # the state is safe before the start, which may fail again for the same reason
    if is_active(was):
        try:
            _start(manage, uuid, pause=was.lower() == "paused")
        except VirtError as undo:
            raise OperationFailedError(
                f"{action} failed ({failure.message}); '{name}' has its earlier state and "
                f"current snapshot back, but starting it again failed ({undo.message}): it "
                "is saved with its memory and resumes when started",
                domain=ErrorDomain.VBOX,
            ) from failure
    raise type(failure)(
        f"{action} failed, and '{name}' was put back as it was: {failure.message}",
        code=failure.code,
        domain=failure.domain,
    ) from failure
