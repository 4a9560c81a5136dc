"""Running shell commands on the dom0: locally for ``xen:///``, over one multiplexed OpenSSH
connection for ``xen+ssh://`` (ControlMaster, so each command costs one round trip)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from virtkit.errors import ErrorCode, ErrorDomain, NoConnectError, OperationFailedError
from virtkit.uri import ConnectURI


class CommandError(OperationFailedError):
    """A command on the dom0 failed; the message holds its error output."""

    def __init__(self, command: str, status: int, stderr: str) -> None:
        detail = stderr.strip().splitlines()
        super().__init__(
            f"{command} failed (exit {status}): {detail[-1] if detail else 'no error output'}",
            domain=ErrorDomain.XEN,
        )
        self.status = status
        self.stderr = stderr


class Dom0:
    """The host a connection manages. :meth:`run` executes a ``bash`` script there."""

    def __init__(self, uri: ConnectURI) -> None:
        self.uri = uri
        self._control_dir: str | None = None
        self._ssh: list[str] | None = None
        if uri.transport == "ssh":
            self._ssh = self._ssh_command(uri)
        elif uri.transport not in (None, "unix"):
            raise NoConnectError(
                f"xen: transport {uri.transport!r} is not supported (use ssh)",
                domain=ErrorDomain.XEN,
            )

    def _ssh_command(self, uri: ConnectURI) -> list[str]:
        if not uri.host:
            raise NoConnectError("xen+ssh:// needs a host name", domain=ErrorDomain.XEN)
        if shutil.which("ssh") is None:
            raise NoConnectError(
                "xen+ssh:// needs the OpenSSH client (ssh)", domain=ErrorDomain.XEN
            )
        self._control_dir = tempfile.mkdtemp(prefix="virtkit-xen-ssh-")
        cmd = [
            "ssh",
            "-T",
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlMaster=auto",
            "-o",
            f"ControlPath={self._control_dir}/%C",
            "-o",
            "ControlPersist=60",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "LogLevel=ERROR",
        ]
        if uri.port:
            cmd += ["-p", str(uri.port)]
        keyfile = uri.param("keyfile")
        if keyfile:
            if not Path(keyfile).is_file():
                raise NoConnectError(
                    f"xen+ssh: keyfile {keyfile!r} does not exist", domain=ErrorDomain.XEN
                )
            cmd += ["-i", keyfile, "-o", "IdentitiesOnly=yes"]
        if uri.param("no_verify") == "1":
            cmd += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        else:
            cmd += ["-o", "StrictHostKeyChecking=yes"]
        cmd.append(f"{uri.user}@{uri.host}" if uri.user else uri.host)
        return cmd

    @property
    def remote(self) -> bool:
        return self._ssh is not None

    def run(
        self,
        script: str,
        *,
        stdin: bytes | None = None,
        check: bool = True,
        timeout: float | None = 600,
    ) -> str:
        """Run ``script`` with ``bash -e`` on the dom0; return its standard output.

        :raises CommandError: it exited non-zero (with ``check``).
        :raises NoConnectError: the dom0 cannot be reached.
        """
        if self._ssh is not None:
            argv = [*self._ssh, "bash -e -c " + shlex.quote(script)]
        else:
            argv = ["bash", "-e", "-c", script]
        try:
            done = subprocess.run(
                argv, input=stdin or b"", capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise OperationFailedError(
                f"xen: command timed out after {timeout} s: {script[:80]}",
                code=ErrorCode.OPERATION_TIMEOUT,
                domain=ErrorDomain.XEN,
            ) from exc
        stderr = done.stderr.decode(errors="replace")
        if self._ssh is not None and done.returncode == 255:
            raise NoConnectError(
                f"xen+ssh: cannot reach {self.uri.host}: {stderr.strip()}", domain=ErrorDomain.XEN
            )
        if check and done.returncode != 0:
            raise CommandError(script.split("\n", 1)[0][:120], done.returncode, stderr)
        return done.stdout.decode(errors="replace")

    def close(self) -> None:
        """End the shared SSH connection."""
        if self._ssh is not None and self._control_dir is not None:
            subprocess.run(
                [*self._ssh[:-1], "-O", "exit", self._ssh[-1]],
                capture_output=True,
                check=False,
                timeout=30,
            )
            shutil.rmtree(self._control_dir, ignore_errors=True)
            self._control_dir = None


def quote(value: str | os.PathLike[str]) -> str:
    """``value`` as one shell word."""
    return shlex.quote(os.fspath(value))
