"""One exception hierarchy carrying libvirt's error codes and error domains.

Every error virtkit raises is a :class:`VirtError`. Subclasses exist for the codes callers
commonly catch (no domain, no snapshot, invalid operation, XML error, no support, read only);
``err.code`` and ``err.domain`` hold libvirt's numbers so code ported from libvirt-python can
keep comparing ``get_error_code()`` values.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """libvirt's ``virErrorNumber`` values (``VIR_ERR_*``)."""

    OK = 0
    INTERNAL_ERROR = 1
    NO_SUPPORT = 3
    NO_CONNECT = 5
    INVALID_CONN = 6
    INVALID_DOMAIN = 7
    INVALID_ARG = 8
    OPERATION_FAILED = 9
    NO_DEVICE = 23
    XML_ERROR = 27
    DOM_EXIST = 28
    OPERATION_DENIED = 29
    OPEN_FAILED = 30
    READ_FAILED = 31
    PARSE_FAILED = 32
    CONF_SYNTAX = 33
    WRITE_FAILED = 34
    XML_DETAIL = 35
    SYSTEM_ERROR = 38
    NO_DOMAIN = 42
    AUTH_FAILED = 45
    OPERATION_INVALID = 55
    CONFIG_UNSUPPORTED = 67
    OPERATION_TIMEOUT = 68
    MIGRATE_PERSIST_FAILED = 69
    HOOK_SCRIPT_FAILED = 70
    INVALID_DOMAIN_SNAPSHOT = 71
    NO_DOMAIN_SNAPSHOT = 72
    ARGUMENT_UNSUPPORTED = 74
    SNAPSHOT_REVERT_RISKY = 77
    OPERATION_ABORTED = 78
    MIGRATE_UNSAFE = 81
    OPERATION_UNSUPPORTED = 84
    RESOURCE_BUSY = 87
    XML_INVALID_SCHEMA = 92
    MULTIPLE_DOMAINS = 110


class ErrorDomain(IntEnum):
    """libvirt's ``virErrorDomain`` values (``VIR_FROM_*``): which part of the stack failed."""

    NONE = 0
    XEN = 1
    XML = 5
    DOM = 6
    CONF = 9
    QEMU = 10
    TEST = 12
    LXC = 17
    DOMAIN = 20
    VBOX = 25
    ESX = 28
    HOOK = 34
    DOMAIN_SNAPSHOT = 35
    EVENT = 40
    LIBXL = 41
    HYPERV = 43
    URI = 45
    AUTH = 46
    SSH = 50
    CGROUP = 54


class VirtError(Exception):
    """Base of every virtkit error: a message that says what failed and what to do."""

    default_code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        domain: ErrorDomain = ErrorDomain.NONE,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.domain = domain

    def get_error_code(self) -> int:
        """libvirt-python's name for :attr:`code`."""
        return int(self.code)

    def get_error_domain(self) -> int:
        """libvirt-python's name for :attr:`domain`."""
        return int(self.domain)

    def get_error_message(self) -> str:
        """libvirt-python's name for the message."""
        return self.message


class InvalidArgumentError(VirtError):
    """An argument (flag combination, URI, name) is not acceptable."""

    default_code = ErrorCode.INVALID_ARG


class NoConnectError(VirtError):
    """No driver could open the URI."""

    default_code = ErrorCode.NO_CONNECT


class NoDomainError(VirtError):
    """No domain matches the name, UUID or ID."""

    default_code = ErrorCode.NO_DOMAIN


class DomainExistsError(VirtError):
    """A domain with that name or UUID already exists."""

    default_code = ErrorCode.DOM_EXIST


class NoSnapshotError(VirtError):
    """The domain has no snapshot of that name (or no current snapshot)."""

    default_code = ErrorCode.NO_DOMAIN_SNAPSHOT


class OperationInvalidError(VirtError):
    """The operation does not apply in the object's current state (e.g. start a running VM)."""

    default_code = ErrorCode.OPERATION_INVALID


class OperationFailedError(VirtError):
    """The hypervisor tried and failed; the message carries what it said."""

    default_code = ErrorCode.OPERATION_FAILED


class OperationAbortedError(VirtError):
    """A job was cancelled (``abort_job``) before it finished."""

    default_code = ErrorCode.OPERATION_ABORTED


class XMLError(VirtError):
    """XML is malformed or does not describe what it should; the message names element and line."""

    default_code = ErrorCode.XML_ERROR


class ConfigUnsupportedError(VirtError):
    """The configuration asks for something this driver cannot honour."""

    default_code = ErrorCode.CONFIG_UNSUPPORTED


class NoSupportError(VirtError):
    """The driver does not implement the operation."""

    default_code = ErrorCode.NO_SUPPORT


class ReadOnlyError(VirtError):
    """A change was asked of a read-only connection."""

    default_code = ErrorCode.OPERATION_DENIED


class HookVetoError(VirtError):
    """An extension's hook refused the operation."""

    default_code = ErrorCode.HOOK_SCRIPT_FAILED


class HostSystemError(VirtError):
    """An operating-system call failed (file, process, socket)."""

    default_code = ErrorCode.SYSTEM_ERROR
