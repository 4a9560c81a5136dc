"""Running ``VBoxManage`` and reading its ``--machinereadable`` output.

The machine-readable format (VirtualBox manual, "VBoxManage showvminfo"): one ``key=value``
per line; keys and string values are double-quoted when they are not plain words (a value's own
quotes and backslashes are not escaped by older releases, so a quoted value runs to the last
quote of the line). Error messages go to stderr as ``VBoxManage: error: <text>`` lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from virtkit.errors import (
    ErrorDomain,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)

ENV_VAR = "VIRTKIT_VBOXMANAGE"
INSTALL_HINT = (
    "VBoxManage not found: install VirtualBox (Debian/Ubuntu: the 'virtualbox' package from "
    "Oracle's repository, https://www.virtualbox.org/wiki/Linux_Downloads), or set "
    f"{ENV_VAR} to the VBoxManage program"
)


def find_vboxmanage() -> str:
    """The ``VBoxManage`` program: ``$VIRTKIT_VBOXMANAGE``, else the one on ``PATH``."""
    named = os.environ.get(ENV_VAR)
    if named:
        if not (os.path.isfile(named) and os.access(named, os.X_OK)):
            raise VirtError(
                f"{ENV_VAR} names '{named}', which is not an executable program",
                domain=ErrorDomain.VBOX,
            )
        return named
    found = shutil.which("VBoxManage") or shutil.which("vboxmanage")
    if found is None:
        raise VirtError(INSTALL_HINT, domain=ErrorDomain.VBOX)
    return found


def parse_machinereadable(text: str) -> dict[str, str]:
    """``key=value`` lines as a dict (quotes removed; later keys win, as they repeat none)."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = _split_key(line)
        if not sep:
            raise OperationFailedError(
                f"VBoxManage output line {number} is not key=value: {line!r}",
                domain=ErrorDomain.VBOX,
            )
        values[key] = _unquote(value)
    return values


def _split_key(line: str) -> tuple[str, str, str]:
    if line.startswith('"'):
        end = line.find('"=', 1)
        if end < 0:
            return line, "", ""
        return line[1:end], "=", line[end + 2 :]
    return line.partition("=")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def host_message(stderr: str) -> str:
    """The ``VBoxManage: error:`` lines of ``stderr`` joined, else its last non-empty line."""
    errors = [
        line.split("error:", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("VBoxManage: error:")
    ]
    if errors:
        return "; ".join(e for e in errors if e)
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def error_for(args: Sequence[str], returncode: int, stderr: str) -> VirtError:
    """The virtkit error for a failed ``VBoxManage args``, carrying what VirtualBox said."""
    said = host_message(stderr)
    text = f"VBoxManage {' '.join(args[:2])} failed (exit {returncode}): {said}"
    if "VBOX_E_OBJECT_NOT_FOUND" in stderr or "Could not find a registered machine" in stderr:
        return NoDomainError(text, domain=ErrorDomain.VBOX)
    if "VBOX_E_INVALID_VM_STATE" in stderr or "is not currently running" in stderr:
        return OperationInvalidError(text, domain=ErrorDomain.VBOX)
    return OperationFailedError(text, domain=ErrorDomain.VBOX)


class VBoxManage:
    """One ``VBoxManage`` program; :meth:`run` raises :func:`error_for` errors."""

    def __init__(self, program: str | None = None, timeout: float = 300.0) -> None:
        self.program = program or find_vboxmanage()
        self.timeout = timeout

    def run(self, *args: str) -> str:
        try:
            done = subprocess.run(
                [self.program, "-q", *args],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise OperationFailedError(
                f"VBoxManage {' '.join(args[:2])} could not run: {exc}", domain=ErrorDomain.VBOX
            ) from exc
        if done.returncode != 0:
            raise error_for(args, done.returncode, done.stderr)
        return done.stdout

    def machinereadable(self, *args: str) -> dict[str, str]:
        return parse_machinereadable(self.run(*args, "--machinereadable"))
