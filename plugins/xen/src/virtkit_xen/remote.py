"""Running shell commands on the dom0: locally for ``xen:///``, over one multiplexed OpenSSH
connection for ``xen+ssh://`` (ControlMaster, so each command costs one round trip)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from virtkit.errors import ErrorCode, ErrorDomain, NoConnectError, OperationFailedError
from virtkit.uri import ConnectURI


class CommandError(OperationFailedError):
    """A script on the dom0 failed. The message names the ``xl`` commands the script runs and
    the first error line of its output: libxl reports the cause first, then the clean-up
    that followed ("Destruction of domain failed")."""

    def __init__(self, script: str, status: int, stderr: str) -> None:
        commands = list(dict.fromkeys(_XL_COMMAND.findall(script)))
        commands = [c for c in commands if c not in _FOLLOW_UP] or commands
        label = ", ".join(f"xl {c}" for c in commands) or script.split("\n", 1)[0][:80]
        lines = stderr.strip().splitlines() or ["no error output"]
        cause = next((line for line in lines if "error" in line.lower()), lines[-1])
        super().__init__(
            f"{label} failed on the dom0 (exit {status}): {cause}",
            domain=ErrorDomain.XEN,
        )
        self.status = status
        self.stderr = stderr


#: the ``xl`` subcommands a script runs
_XL_COMMAND = re.compile(r"(?<![\w/-])xl ([a-z][a-z-]+)")

#: subcommands a start script runs after ``xl create``/``xl restore`` (to unpause the domain, or
#: to destroy it when the start failed): an error names them only in a script without others
_FOLLOW_UP = frozenset({"destroy", "unpause"})


#: POSIX shell: checks that the host is a dom0 and says whether the shell running it is bash
PROBE = (
    "command -v xl >/dev/null || { echo 'xl not found: not a Xen dom0' >&2; exit 1; }\n"
    'echo "${BASH_VERSION:+bash}"'
)


class Dom0:
    """The host a connection manages. :meth:`run` executes a ``bash`` script there."""

    def __init__(self, uri: ConnectURI) -> None:
        self.uri = uri
        self._control_dir: str | None = None
        self._ssh: list[str] | None = None
        self._login_bash = False
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
            # an emulated dom0 under load can stall for a while: give up after 2 minutes
            "ServerAliveCountMax=8",
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

    def probe(self) -> None:
        """Check that the host is a dom0 (:class:`CommandError` if not) and learn whether the
        SSH login shell is bash: scripts then run in it, not in a second ``bash`` (on an
        emulated dom0 each process started costs a tenth of a second)."""
        argv = [*self._ssh, PROBE] if self._ssh is not None else ["sh", "-c", PROBE]
        self._login_bash = self._execute(argv, PROBE, 60)[0].strip() == "bash"

    def terminal_argv(self, command: str) -> list[str]:
        """The argv that runs ``command`` on the dom0 on a terminal: through ``ssh -tt`` (the
        same shared connection), or locally."""
        if self._ssh is None:
            return ["sh", "-c", command]
        return [self._ssh[0], "-tt", *self._ssh[2:], command]

    def run(self, script: str, *, check: bool = True, timeout: float | None = 600) -> str:
        """Run ``script`` with ``bash -e`` on the dom0; return its standard output.

        :raises CommandError: it exited non-zero (with ``check``).
        :raises NoConnectError: the dom0 cannot be reached.
        """
        return self.run_capture(script, check=check, timeout=timeout)[0]

    def run_capture(
        self, script: str, *, check: bool = True, timeout: float | None = 600
    ) -> tuple[str, str]:
        """Like :meth:`run`, returning standard output and error output."""
        if self._ssh is None:
            argv = ["bash", "-e", "-c", script]
        elif self._login_bash:
            argv = [*self._ssh, "set -e\n" + script]
        else:
            argv = [*self._ssh, "bash -e -c " + shlex.quote(script)]
        return self._execute(argv, script, timeout, check=check)

    def _execute(
        self, argv: list[str], script: str, timeout: float | None, *, check: bool = True
    ) -> tuple[str, str]:
        try:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
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
                f"xen+ssh: cannot reach {self.uri.host}: "
                f"{stderr.strip() or 'the SSH connection ended without a message (exit 255)'}",
                domain=ErrorDomain.XEN,
            )
        if check and done.returncode != 0:
            raise CommandError(script, done.returncode, stderr)
        return done.stdout.decode(errors="replace"), stderr

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
