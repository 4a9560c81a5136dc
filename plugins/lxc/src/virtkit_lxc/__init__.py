"""virtkit's LXC driver: Linux containers from libvirt's ``<domain type='lxc'>``.

Besides the driver (entry point ``lxc`` of group ``virtkit.drivers``), two functions for what
the common API has no call for:

- :func:`enter_namespace`: libvirt's ``lxc-enter-namespace``, run a program inside a container;
- :func:`console_path`: the host pty a console client opens.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from virtkit import Domain

    from virtkit_lxc.driver import LxcDriver

__all__ = ["console_path", "enter_namespace"]


def _driver(domain: Domain) -> LxcDriver:
    from virtkit_lxc.driver import LxcDriver

    conn = domain.connect()
    if conn.get_type() != LxcDriver.name:
        from virtkit.errors import InvalidArgumentError

        raise InvalidArgumentError(f"domain '{domain.name()}' is not an LXC container")
    # The facade has no public way to reach a connection's driver object yet.
    driver: LxcDriver = conn._driver
    return driver


def enter_namespace(
    domain: Domain, argv: Sequence[str], *, input: bytes = b"", capture: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` inside running container ``domain`` and wait for it.

    The program runs in the container's cgroups and in every one of its namespaces (user,
    ipc, uts, net, pid, mount: it sees the container's root, processes and network), with
    ``input`` on its stdin; its exit status and output are returned. With ``capture=False`` it
    uses the caller's stdin, stdout and stderr instead (what ``virtkit lxc-enter-namespace``
    wants), and the result holds only the exit status.

    :raises OperationInvalidError: the container is not running.
    :raises OperationFailedError: the program could not be started inside.
    """
    return _driver(domain).enter_namespace(domain.ref, argv, input=input, capture=capture)


def console_path(domain: Domain) -> str:
    """The host pty (``/dev/pts/N``) relayed to the running container's ``/dev/console``."""
    return _driver(domain).console_path(domain.ref)
