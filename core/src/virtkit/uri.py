"""libvirt connection URIs: ``driver[+transport]://[user@][host][:port]/[path][?query]``."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from virtkit.errors import InvalidArgumentError

_SCHEME = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9]+)?$")


def query_params(query: str) -> tuple[tuple[str, str], ...]:
    """The ``name=value`` pairs of a URI query as libvirt reads them: separated by ``&`` or
    ``;``, %-escapes decoded, ``+`` kept as it is (not a space, unlike a web form)."""
    pairs = []
    for item in re.split(r"[&;]", query):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return tuple(pairs)


class ConnectURI(NamedTuple):
    """A parsed connection URI.

    ``driver`` selects the plugin (entry point of group ``virtkit.drivers``); ``transport`` is
    the part after ``+`` (``ssh``, ``tcp``, ``unix``...), ``None`` for a local connection.
    ``path`` is ``/system``, ``/session``, ``/embed``, a file path for ``test:///``... as the
    driver defines. ``params`` keeps the query parameters in order.
    """

    driver: str
    transport: str | None = None
    user: str | None = None
    host: str | None = None
    port: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> ConnectURI:
        """Parse ``text``; raise :class:`InvalidArgumentError` naming what is wrong."""
        scheme, sep, _ = text.partition("://")
        if not sep:
            raise InvalidArgumentError(
                f"invalid connection URI {text!r}: expected driver[+transport]://[host]/[path], "
                "for example qemu:///system or test:///default"
            )
        if not _SCHEME.match(scheme):
            raise InvalidArgumentError(
                f"invalid connection URI {text!r}: scheme {scheme!r} is not of the form "
                "driver[+transport] (lower-case letters and digits)"
            )
        driver, _, transport = scheme.partition("+")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise InvalidArgumentError(f"invalid connection URI {text!r}: {exc}") from None
        return cls(
            driver=driver,
            transport=transport or None,
            user=unquote(parts.username) if parts.username else None,
            host=parts.hostname or None,
            port=port,
            path=unquote(parts.path),
            params=query_params(parts.query),
        )

    @property
    def scheme(self) -> str:
        return f"{self.driver}+{self.transport}" if self.transport else self.driver

    @property
    def is_local(self) -> bool:
        """True when no host is named and no transport is asked for."""
        return self.host is None and self.transport is None

    def param(self, name: str, default: str | None = None) -> str | None:
        """The last value of query parameter ``name`` (libvirt takes the last one)."""
        value = default
        for key, val in self.params:
            if key == name:
                value = val
        return value

    def __str__(self) -> str:
        netloc = ""
        if self.user:
            netloc += quote(self.user, safe="") + "@"
        if self.host:
            netloc += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            netloc += f":{self.port}"
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in self.params)
        return f"{self.scheme}://{netloc}{quote(self.path, safe='/')}" + (
            f"?{query}" if query else ""
        )
