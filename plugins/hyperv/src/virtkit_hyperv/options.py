"""What a ``hyperv://`` URI asks for.

``hyperv://[user@]host[:port]/?transport=http|https&auth=ntlm|kerberos|basic`` (libvirt's
``transport`` parameter, default ``https``; ``auth`` is virtkit's, default ``ntlm``).
WinRM listens on 5985 (http) and 5986 (https).
"""

from __future__ import annotations

import attrs
from virtkit.errors import InvalidArgumentError
from virtkit.uri import ConnectURI

DEFAULT_PORTS = {"http": 5985, "https": 5986}
AUTH_METHODS = ("ntlm", "kerberos", "basic")


@attrs.frozen(kw_only=True)
class ConnectOptions:
    host: str
    port: int
    user: str | None
    transport: str
    auth: str

    @property
    def endpoint(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}/wsman"

    @classmethod
    def from_uri(cls, uri: ConnectURI) -> ConnectOptions:
        """Check ``uri``; :class:`InvalidArgumentError` names what is wrong."""
        if uri.transport is not None or not uri.host:
            raise InvalidArgumentError(
                f"unexpected connection URI '{uri}': the Hyper-V driver takes "
                "hyperv://[user@]host[:port]/ (no '+transport', a host is required)"
            )
        if uri.path not in ("", "/"):
            raise InvalidArgumentError(
                f"unexpected path '{uri.path}' in '{uri}': hyperv:// URIs name a host only"
            )
        transport = (uri.param("transport") or "https").lower()
        if transport not in DEFAULT_PORTS:
            raise InvalidArgumentError(
                f"query parameter 'transport' has unexpected value '{transport}': "
                "expecting 'http' or 'https'"
            )
        auth = (uri.param("auth") or "ntlm").lower()
        if auth not in AUTH_METHODS:
            raise InvalidArgumentError(
                f"query parameter 'auth' has unexpected value '{auth}': expecting one of "
                f"{', '.join(AUTH_METHODS)}"
            )
        return cls(
            host=uri.host,
            port=uri.port or DEFAULT_PORTS[transport],
            user=uri.user,
            transport=transport,
            auth=auth,
        )
