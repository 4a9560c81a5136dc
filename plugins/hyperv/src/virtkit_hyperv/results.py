"""What WMI methods and jobs report, as virtkit errors carrying what the host said.

Return codes of the virtualization v2 methods (``ReturnValue``) and ``Msvm_ConcreteJob``'s
``JobState`` values, as documented for the v2 namespace.
"""

from __future__ import annotations

from virtkit.errors import (
    ErrorCode,
    ErrorDomain,
    InvalidArgumentError,
    NoDomainError,
    OperationFailedError,
    OperationInvalidError,
    VirtError,
)

COMPLETED = 0
JOB_STARTED = 4096
RETURN_CODES = {
    0: "Completed with no error",
    4096: "Method parameters checked, job started",
    32768: "Failed",
    32769: "Access denied",
    32770: "Not supported",
    32771: "Status is unknown",
    32772: "Timeout",
    32773: "Invalid parameter",
    32774: "System is in use",
    32775: "Invalid state for this operation",
    32776: "Incorrect data type",
    32777: "System is not available",
    32778: "Out of memory",
    32779: "File not found",
}
JOB_STATES = {
    2: "New",
    3: "Starting",
    4: "Running",
    5: "Suspended",
    6: "Shutting down",
    7: "Completed",
    8: "Terminated",
    9: "Killed",
    10: "Exception",
    11: "Service",
}
JOB_RUNNING = {2, 3, 4, 5, 6}
JOB_DONE = 7


def method_error(method: str, code: int, host_said: str = "") -> VirtError:
    """The error for ``method`` returning ``code`` (neither 0 nor 4096)."""
    meaning = RETURN_CODES.get(code, "unknown return code")
    text = f"Hyper-V {method} failed: {code} ({meaning})"
    if host_said:
        text += f": {host_said}"
    if code == 32775:
        return OperationInvalidError(text, domain=ErrorDomain.HYPERV)
    if code in (32773, 32776):
        return InvalidArgumentError(text, domain=ErrorDomain.HYPERV)
    if code == 32769:
        return OperationFailedError(text, code=ErrorCode.AUTH_FAILED, domain=ErrorDomain.HYPERV)
    if code == 32779:
        return (
            NoDomainError(text, domain=ErrorDomain.HYPERV)
            if method == "lookup"
            else OperationFailedError(text, domain=ErrorDomain.HYPERV)
        )
    return OperationFailedError(text, domain=ErrorDomain.HYPERV)


def job_error(
    method: str, state: int, error_code: str | None, description: str | None
) -> VirtError:
    """The error for a job of ``method`` that ended in ``state`` other than Completed."""
    name = JOB_STATES.get(state, "unknown state")
    said = description or "no error description"
    code = f", error code {error_code}" if error_code not in (None, "", "0") else ""
    return OperationFailedError(
        f"Hyper-V {method} job ended {state} ({name}{code}): {said}", domain=ErrorDomain.HYPERV
    )
