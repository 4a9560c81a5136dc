"""What an ``esx://``, ``gsx://`` or ``vpx://`` URI asks for, checked as libvirt checks it.

``esx://host[:port]/``, ``gsx://host[:port]/`` and
``vpx://vcenter[:port]/datacenter[/folder...]/cluster/host`` (or ``.../datacenter/host`` for a
standalone host), with libvirt's query parameters ``transport`` (``https``, the default, or
``http``), ``no_verify=1`` (do not check the server's certificate) and
``proxy=[http://]host[:port]``.
"""

from __future__ import annotations

import attrs
from virtkit.errors import InvalidArgumentError
from virtkit.uri import ConnectURI

DEFAULT_PORTS = {
    ("esx", "https"): 443,
    ("esx", "http"): 80,
    ("gsx", "https"): 8333,
    ("gsx", "http"): 8222,
    ("vpx", "https"): 443,
    ("vpx", "http"): 80,
}
DEFAULT_PROXY_PORT = 1080


@attrs.frozen(kw_only=True)
class ConnectOptions:
    scheme: str
    host: str
    port: int
    user: str | None
    transport: str
    verify: bool
    proxy: tuple[str, int] | None
    path: tuple[str, ...]
    """For ``vpx://``: datacenter, then the folders, cluster and host below it."""

    @classmethod
    def from_uri(cls, uri: ConnectURI) -> ConnectOptions:
        """Check ``uri``; :class:`InvalidArgumentError` names what is wrong."""
        scheme = uri.driver
        if uri.transport is not None or not uri.host:
            raise InvalidArgumentError(
                f"unexpected connection URI '{uri}': the ESX driver takes "
                f"{scheme}://host[:port]/ (no '+transport', a host is required)"
            )
        transport = (uri.param("transport") or "https").lower()
        if transport not in ("http", "https"):
            raise InvalidArgumentError(
                f"query parameter 'transport' has unexpected value '{transport}': "
                "expecting 'http' or 'https'"
            )
        no_verify = uri.param("no_verify", "0")
        if no_verify not in ("0", "1"):
            raise InvalidArgumentError(
                f"query parameter 'no_verify' has unexpected value '{no_verify}': expecting 0 or 1"
            )
        path = tuple(p for p in uri.path.split("/") if p)
        if scheme in ("esx", "gsx") and path:
            raise InvalidArgumentError(
                f"unexpected path '{uri.path}' in '{uri}': {scheme}:// URIs name a host only"
            )
        if scheme == "vpx" and len(path) < 2:
            raise InvalidArgumentError(
                f"path '{uri.path}' of '{uri}' must name datacenter[/folder...]/cluster/host "
                "(or datacenter/host for a standalone host)"
            )
        return cls(
            scheme=scheme,
            host=uri.host,
            port=uri.port or DEFAULT_PORTS[(scheme, transport)],
            user=uri.user,
            transport=transport,
            verify=no_verify == "0",
            proxy=_proxy(uri.param("proxy")),
            path=path,
        )


def _proxy(value: str | None) -> tuple[str, int] | None:
    """libvirt's ``proxy=[type://]host[:port]``; pyvmomi tunnels through HTTP proxies only."""
    if not value:
        return None
    kind, sep, rest = value.partition("://")
    if not sep:
        kind, rest = "http", value
    if kind != "http":
        raise InvalidArgumentError(
            f"query parameter 'proxy': type '{kind}' is not supported (only http proxies)"
        )
    host, _, port = rest.partition(":")
    if not host or (port and not port.isdigit()):
        raise InvalidArgumentError(
            f"query parameter 'proxy': '{value}' is not [http://]host[:port]"
        )
    return host, int(port or DEFAULT_PROXY_PORT)
