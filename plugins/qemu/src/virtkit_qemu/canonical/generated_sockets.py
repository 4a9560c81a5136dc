"""Sockets libvirt made for a running domain, forgotten when its live XML is defined again.

A unix channel or a VNC console without a path gets a socket that libvirt's QEMU driver makes
at each start, in its channel folder or its lib folder, and shows in the live XML. Parsing a
definition as inactive, libvirt drops such paths so that the next start makes its own. The
rules below are libvirt 9.0's, checked against it, including where they reach further than
their intent (the channel rule's alternatives are not grouped, so a path anywhere that ends
in ``domain-*/<target name>`` is dropped too).
"""

from __future__ import annotations

import re

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on
from virtkit.xml.canonical.order import first_child

from virtkit_qemu.canonical.context import QemuContext, SocketFolders, devices_named


def _folders(ctx: Context) -> SocketFolders | None:
    """The folders whose sockets are forgotten: only an inactive parse forgets any."""
    if ctx.inactive and isinstance(ctx, QemuContext):
        return ctx.sockets
    return None


def _is_generated_channel_path(path: str, target_name: str, channel_dir: str) -> bool:
    """Whether libvirt takes ``path`` for the socket it made for the virtio channel named
    ``target_name``: ``<channel_dir>/<name>.<...>`` or ``.../domain-<...>/<target_name>``."""
    pattern = f"^{re.escape(channel_dir)}/([^/]+\\.)|(domain-[^/]+/){re.escape(target_name)}$"
    return re.search(pattern, path) is not None


@acts_on("channel")
def forget_channel_sockets(root: etree._Element, ctx: Context) -> None:
    """A virtio unix channel forgets the socket path libvirt made in its channel folder."""
    folders = _folders(ctx)
    if folders is None:
        return
    for channel in devices_named(root, "channel"):
        target = first_child(channel, "target")
        source = first_child(channel, "source")
        if (
            channel.get("type") != "unix"
            or target is None
            or target.get("type") != "virtio"
            or source is None
            or not source.get("path")
        ):
            continue
        path = source.get("path", "")
        if _is_generated_channel_path(path, target.get("name", ""), folders.channel_dir):
            del source.attrib["path"]
            source.set("mode", "bind")  # (libvirt makes the socket it listens on)


@acts_on("graphics")
def forget_vnc_sockets(root: etree._Element, ctx: Context) -> None:
    """A VNC console listening on a socket in libvirt's lib folder listens on an address
    (the default one, on a port chosen at start) instead."""
    folders = _folders(ctx)
    if folders is None:
        return
    for graphics in devices_named(root, "graphics"):
        if graphics.get("type") != "vnc":
            continue
        if graphics.get("socket", "").startswith(folders.lib_dir):
            del graphics.attrib["socket"]
        for listen in graphics.iterchildren("listen"):
            socket = listen.get("socket")
            if listen.get("type") == "socket" and socket and socket.startswith(folders.lib_dir):
                del listen.attrib["socket"]
                listen.set("type", "address")
