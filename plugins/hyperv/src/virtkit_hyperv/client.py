"""The WinRM session: pywinrm carries the messages :mod:`virtkit_hyperv.wsman` builds;
WQL queries, method calls, and ``Msvm_ConcreteJob`` polling with progress."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import requests
from virtkit.auth import AuthError
from virtkit.errors import ErrorDomain, NoConnectError, OperationFailedError
from winrm.exceptions import InvalidCredentialsError, WinRMError, WinRMTransportError
from winrm.protocol import Protocol

from virtkit_hyperv import wsman
from virtkit_hyperv.options import ConnectOptions
from virtkit_hyperv.results import (
    COMPLETED,
    JOB_DONE,
    JOB_RUNNING,
    JOB_STARTED,
    job_error,
    method_error,
)

CONNECT_TIMEOUT = 10.0
JOB_POLL_SECONDS = 0.5
JobProgress = Callable[[int], None]
"""Called with a job's ``PercentComplete`` while it runs."""


def check_reachable(host: str, port: int) -> None:
    """Fail with a clear error when nothing listens on ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise NoConnectError(
            f"cannot reach the Hyper-V host {host} on port {port} (WinRM): {exc.strerror or exc}",
            domain=ErrorDomain.HYPERV,
        ) from None


class Client:
    """One authenticated WinRM session to a Hyper-V host."""

    def __init__(self, opts: ConnectOptions, username: str, password: str) -> None:
        self.endpoint = opts.endpoint
        try:
            self.protocol = Protocol(
                endpoint=opts.endpoint,
                transport=cast(Any, opts.auth),  # one of ntlm, kerberos, basic (checked)
                username=username,
                password=password,
                server_cert_validation="validate",
            )
            self.protocol.transport.build_session()
        except WinRMError as exc:  # e.g. Kerberos asked for without its libraries
            raise NoConnectError(
                f"cannot use {opts.auth} authentication with {self.endpoint}: {exc} "
                "(Kerberos needs: pip install 'pywinrm[kerberos]')",
                domain=ErrorDomain.HYPERV,
            ) from None

    def send(self, message: str) -> bytes:
        try:
            return self.protocol.send_message(message)
        except InvalidCredentialsError as exc:
            raise AuthError(
                f"{self.endpoint} refused the credentials: {exc}", domain=ErrorDomain.HYPERV
            ) from None
        except WinRMTransportError as exc:
            raise OperationFailedError(
                f"WinRM request to {self.endpoint} failed: HTTP {exc.code}: "
                f"{(exc.response_text or '').strip()[:500]}",
                domain=ErrorDomain.HYPERV,
            ) from None
        except (WinRMError, requests.RequestException) as exc:
            raise OperationFailedError(
                f"WinRM request to {self.endpoint} failed: {exc}", domain=ErrorDomain.HYPERV
            ) from None

    def query(self, wql: str) -> list[wsman.Instance]:
        """Every instance the WQL query selects (pulling further batches as needed)."""
        found, context = wsman.read_enumeration(
            self.send(wsman.enumerate_message(self.endpoint, wql))
        )
        while context:
            more, context = wsman.read_enumeration(
                self.send(wsman.pull_message(self.endpoint, context))
            )
            found += more
        return found

    def invoke(
        self,
        target: wsman.Reference,
        method: str,
        params: Sequence[tuple[str, wsman.Param]],
        progress: JobProgress | None = None,
    ) -> wsman.Instance:
        """Call ``method``; wait for its job when it starts one; return its output."""
        out = wsman.read_output(
            self.send(wsman.invoke_message(self.endpoint, target, method, params)), method
        )
        code = int(str(out.get("ReturnValue") or 0))
        if code == JOB_STARTED:
            job = out.get("Job")
            if not isinstance(job, wsman.Reference):
                raise OperationFailedError(
                    f"Hyper-V {method} started a job but named none", domain=ErrorDomain.HYPERV
                )
            self.wait_job(method, job.keys.get("InstanceID", ""), progress)
        elif code != COMPLETED:
            raise method_error(method, code)
        return out

    def wait_job(self, method: str, instance_id: str, progress: JobProgress | None) -> None:
        """Poll ``Msvm_ConcreteJob`` until the job ends; raise with its error when it failed."""
        while True:
            jobs = self.query(
                f"SELECT * FROM Msvm_ConcreteJob WHERE InstanceID = {wsman.wql_string(instance_id)}"
            )
            if not jobs:
                raise OperationFailedError(
                    f"Hyper-V {method} job {instance_id} vanished", domain=ErrorDomain.HYPERV
                )
            job = jobs[0]
            state = int(str(job.get("JobState") or 0))
            if progress is not None and job.get("PercentComplete"):
                progress(int(str(job["PercentComplete"])))
            if state == JOB_DONE:
                return
            if state not in JOB_RUNNING:
                raise job_error(
                    method,
                    state,
                    wsman.text(job.get("ErrorCode")) or None,
                    wsman.text(job.get("ErrorDescription")) or None,
                )
            time.sleep(JOB_POLL_SECONDS)
