"""WMI return codes and job states become virtkit errors that carry what the host said.

The method calls run through :class:`virtkit_hyperv.client.Client` with its transport replaced
by a list of response documents written by hand from the WMI v2 documentation (return codes,
``Msvm_ConcreteJob`` properties); no Hyper-V host is involved or imitated beyond those replies.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from lxml import etree
from virtkit.errors import (
    InvalidArgumentError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)
from virtkit_hyperv import client as client_mod
from virtkit_hyperv.client import Client
from virtkit_hyperv.results import job_error, method_error
from virtkit_hyperv.wsman import Reference

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2"
SYSTEM = Reference(
    "Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem", "Name": "GUID-1"}
)


def output(method: str, code: int, job: str | None = None) -> bytes:
    job_ref = (
        ""
        if job is None
        else (
            f"<p:Job><a:Address>{A}/role/anonymous</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{V2}/Msvm_ConcreteJob</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="InstanceID">{job}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></p:Job>"
        )
    )
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:a="{A}" xmlns:w="{W}"><s:Body>'
        f'<p:{method}_OUTPUT xmlns:p="{V2}/Msvm_ComputerSystem">{job_ref}'
        f"<p:ReturnValue>{code}</p:ReturnValue></p:{method}_OUTPUT></s:Body></s:Envelope>"
    ).encode()


def job(state: int, percent: int, error: str = "") -> bytes:
    extra = (
        f"<p:ErrorCode>32768</p:ErrorCode><p:ErrorDescription>{error}</p:ErrorDescription>"
        if error
        else ""
    )
    return (
        f'<s:Envelope xmlns:s="{S}" xmlns:n="{N}" xmlns:w="{W}"><s:Body>'
        "<n:EnumerateResponse><w:Items>"
        f'<p:Msvm_ConcreteJob xmlns:p="{V2}/Msvm_ConcreteJob">'
        f"<p:InstanceID>JOB-1</p:InstanceID><p:JobState>{state}</p:JobState>"
        f"<p:PercentComplete>{percent}</p:PercentComplete>{extra}</p:Msvm_ConcreteJob>"
        "</w:Items><w:EndOfSequence/></n:EnumerateResponse></s:Body></s:Envelope>"
    ).encode()


class Replies(Client):
    """A client whose transport answers with the given documents, in order."""

    def __init__(self, replies: list[bytes]) -> None:
        self.endpoint = "https://hv.example:5986/wsman"
        self.replies: Iterator[bytes] = iter(replies)
        self.sent: list[etree._Element] = []

    def send(self, message: str) -> bytes:
        self.sent.append(etree.fromstring(message))
        return next(self.replies)


@pytest.fixture(autouse=True)
def _no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "JOB_POLL_SECONDS", 0)


def test_job_is_polled_with_progress_until_completed() -> None:
    client = Replies([output("RequestStateChange", 4096, "JOB-1"), job(4, 40), job(7, 100)])
    seen: list[int] = []
    client.invoke(SYSTEM, "RequestStateChange", [("RequestedState", 2)], progress=seen.append)
    assert seen == [40, 100]
    filters = [m.findtext(f".//{{{W}}}Filter") for m in client.sent[1:]]
    assert filters == ["SELECT * FROM Msvm_ConcreteJob WHERE InstanceID = 'JOB-1'"] * 2


def test_failed_job_reports_the_hosts_description() -> None:
    said = "'web' failed to start. Not enough memory in the system to start the virtual machine"
    client = Replies([output("RequestStateChange", 4096, "JOB-1"), job(10, 0, said)])
    with pytest.raises(OperationFailedError) as err:
        client.invoke(SYSTEM, "RequestStateChange", [("RequestedState", 2)])
    assert "10 (Exception, error code 32768)" in err.value.message
    assert said in err.value.message


@pytest.mark.parametrize(
    ("code", "kind", "meaning"),
    [
        (32775, OperationInvalidError, "Invalid state for this operation"),
        (32773, InvalidArgumentError, "Invalid parameter"),
        (32770, OperationFailedError, "Not supported"),
        (32768, OperationFailedError, "Failed"),
    ],
)
def test_return_codes_map_to_errors(code: int, kind: type[VirtError], meaning: str) -> None:
    client = Replies([output("RequestStateChange", code)])
    with pytest.raises(kind) as err:
        client.invoke(SYSTEM, "RequestStateChange", [("RequestedState", 9)])
    assert f"RequestStateChange failed: {code} ({meaning})" in err.value.message
    assert err.value.get_error_domain() == 43  # VIR_FROM_HYPERV


def test_unknown_return_code_is_named() -> None:
    assert "12345 (unknown return code)" in method_error("DefineSystem", 12345).message


def test_job_error_without_description() -> None:
    error = job_error("DestroySystem", 8, None, None)
    assert "8 (Terminated): no error description" in error.message
