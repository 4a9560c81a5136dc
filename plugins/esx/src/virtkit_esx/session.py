"""A logged-in vSphere session (pyvmomi) and the few calls every operation goes through:
reading properties, waiting for tasks, and turning vSphere faults into virtkit errors.

Properties are read through the PropertyCollector, never by attribute access on managed
objects: one round trip for many values, and an unset optional property (``vm.snapshot`` of a
VM without snapshots) reads as absent instead of breaking the request on some servers.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Iterable
from typing import Any

from pyVim import connect
from pyVmomi import vim, vmodl
from virtkit.errors import (
    ErrorDomain,
    NoConnectError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)
from virtkit.records import Progress, ProgressCallback

# pyvmomi builds its types at run time: typed as Any here
PC: Any = vmodl.query.PropertyCollector
VIEW_TYPE: Any = vim.view.ContainerView
_connect: Any = connect.SmartConnect
_disconnect: Any = connect.Disconnect
TASK_POLL_S = 0.005


def fault_message(fault: BaseException) -> str:
    """What vSphere said: the fault's type and message."""
    if isinstance(fault, vmodl.MethodFault):
        messages = getattr(fault, "faultMessage", None) or []
        text = getattr(fault, "msg", None) or (messages[0].message if messages else "")
        return f"{type(fault).__name__.rsplit('.', 1)[-1]}: {text}".rstrip(": ")
    return str(fault)


def vsphere_error(action: str, fault: BaseException) -> VirtError:
    """A virtkit error for ``fault``; state conflicts are the caller's mistake, the rest
    vSphere's failure."""
    invalid = (vim.fault.InvalidPowerState, vim.fault.InvalidState, vim.fault.NotFound)
    cls = OperationInvalidError if isinstance(fault, invalid) else OperationFailedError
    return cls(f"{action} failed: vSphere said {fault_message(fault)}", domain=ErrorDomain.ESX)


class Session:
    """One vSphere login. Thread-safe as pyvmomi's stub is (one request at a time)."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        verify: bool,
        protocol: str = "https",
        proxy: tuple[str, int] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        kwargs["sslContext"] = (
            ssl.create_default_context() if verify else ssl._create_unverified_context()
        )  # noqa: S323 (no_verify=1)
        if proxy:
            kwargs["httpProxyHost"], kwargs["httpProxyPort"] = proxy
        try:
            self.si = _connect(
                host=host, port=port, user=user, pwd=password, protocol=protocol, **kwargs
            )
        except vim.fault.InvalidLogin as exc:
            raise NoConnectError(
                f"cannot log in to {host}:{port} as '{user}': {fault_message(exc)}",
                domain=ErrorDomain.ESX,
            ) from None
        except (OSError, vmodl.MethodFault, ssl.SSLError) as exc:
            raise NoConnectError(
                f"cannot connect to vSphere at {host}:{port}: {exc}", domain=ErrorDomain.ESX
            ) from None
        self.content = self.si.RetrieveContent()
        self.pc = self.content.propertyCollector

    def close(self) -> None:
        _disconnect(self.si)

    # ------------------------------------------------------------------ properties

    def props(self, obj: Any, paths: Iterable[str]) -> dict[str, Any]:
        """The properties ``paths`` of one object (absent ones missing from the dict)."""
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=obj)],
            propSet=[PC.PropertySpec(type=type(obj), pathSet=list(paths))],
        )
        try:
            res = self.pc.RetrievePropertiesEx([spec], PC.RetrieveOptions())
        except vmodl.fault.ManagedObjectNotFound:
            return {}
        out: dict[str, Any] = {}
        for o in res.objects if res else []:
            for p in o.propSet or []:
                out[p.name] = p.val
        return out

    def get(self, obj: Any, path: str) -> Any:
        return self.props(obj, [path]).get(path)

    def view(self, vimtype: type, root: Any = None) -> Any:
        """A container view of every object of ``vimtype`` under ``root`` (it lives as long as
        the session: reuse it)."""
        return self.content.viewManager.CreateContainerView(
            root or self.content.rootFolder, [vimtype], True
        )

    def in_view(
        self,
        view: Any,
        vimtype: type,
        paths: list[str],
        also: tuple[Any, list[str]] | None = None,
    ) -> list[tuple[Any, dict[str, Any]]]:
        """The objects of ``view`` with their properties ``paths``, in one call (more when the
        server pages the answer); ``also``, one more object and its properties, comes in the
        same call, among the results."""
        traversal = PC.TraversalSpec(name="view", path="view", skip=False, type=VIEW_TYPE)
        objects = [PC.ObjectSpec(obj=view, skip=True, selectSet=[traversal])]
        props = [PC.PropertySpec(type=vimtype, pathSet=paths)]
        if also is not None:
            objects.append(PC.ObjectSpec(obj=also[0]))
            props.append(PC.PropertySpec(type=type(also[0]), pathSet=also[1]))
        spec = PC.FilterSpec(objectSet=objects, propSet=props)
        out = []
        res = self.pc.RetrievePropertiesEx([spec], PC.RetrieveOptions())
        while res:
            out += [(o.obj, {p.name: p.val for p in o.propSet or []}) for o in res.objects or []]
            res = self.pc.ContinueRetrievePropertiesEx(res.token) if res.token else None
        return out

    def all_of(self, vimtype: type, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """Every object of ``vimtype`` with the properties ``paths`` (a view made for the call)."""
        view = self.view(vimtype)
        try:
            return self.in_view(view, vimtype, paths)
        finally:
            view.Destroy()

    # ------------------------------------------------------------------ tasks

    def wait(
        self,
        task: Any,
        action: str,
        progress: ProgressCallback | None = None,
        timeout: float = 600.0,
    ) -> Any:
        """Wait for ``task``; return its result or raise what vSphere said. Reads only
        ``info.state/progress/error/result`` (pyvmomi cannot read vcsim's whole TaskInfo of
        snapshot tasks)."""
        end = time.monotonic() + timeout
        last = -1
        while True:
            info = self.props(task, ["info.state", "info.progress", "info.result", "info.error"])
            state = info.get("info.state")
            if progress is not None and info.get("info.progress") not in (None, last):
                last = info["info.progress"]
                progress(Progress(operation=action, processed=last, total=100))
            if state == "success":
                if progress is not None and last != 100:
                    progress(Progress(operation=action, processed=100, total=100))
                return info.get("info.result")
            if state == "error":
                raise vsphere_error(action, info["info.error"])
            if time.monotonic() > end:
                raise OperationFailedError(
                    f"{action}: vSphere task still {state} after {timeout:.0f} s",
                    domain=ErrorDomain.ESX,
                )
            time.sleep(TASK_POLL_S)

    def run(
        self,
        action: str,
        call: Any,
        *args: Any,
        progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> Any:
        """Start a ``*_Task`` method and wait for it; faults at submission are reported too."""
        try:
            task = call(*args, **kwargs)
            return self.wait(task, action, progress)
        except vmodl.MethodFault as exc:
            raise vsphere_error(action, exc) from None
        except (OSError, http.client.HTTPException) as exc:
            raise OperationFailedError(
                f"{action} failed: lost the connection to vSphere ({exc or type(exc).__name__})",
                domain=ErrorDomain.ESX,
            ) from None
