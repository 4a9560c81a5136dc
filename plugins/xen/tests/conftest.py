"""Fixtures of the ``xen``-marked tests: one real Xen host per session (see
:mod:`virtkit_xen.testhost`). ``$VIRTKIT_XEN_SSH_PORT`` points them at a host from the cache
that is already running in ``sshd`` mode on that port instead of booting one."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from virtkit_xen.testhost import XenHost, build_host_image, free_port


@pytest.fixture(scope="session")
def xen_host() -> Iterator[XenHost]:
    """One Xen host in ``sshd`` mode for the whole session; powered off at the end."""
    running = os.environ.get("VIRTKIT_XEN_SSH_PORT")
    if running:
        yield XenHost.attach(int(running))
        return
    build_host_image()
    host = XenHost("xen-host", "sshd", free_port())
    try:
        host.wait_ready()
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def xen_uri(xen_host: XenHost) -> str:
    return xen_host.uri
