"""Credentials for remote drivers, found as libvirt finds them.

The auth file is libvirt's ``auth.conf`` format::

    [credentials-lab]
    authname=admin
    password=secret

    [auth-esx-vcenter.example.com]
    credentials=lab

looked up as ``auth-<driver>-<host>`` then ``auth-<driver>-default``. The file is the one named
by ``$VIRTKIT_AUTH_FILE``, else ``$LIBVIRT_AUTH_FILE``, else the first of
``$XDG_CONFIG_HOME/libvirt/auth.conf`` (``~/.config/...``) and ``/etc/libvirt/auth.conf`` that
exists. Without an entry, a password is asked for on the terminal, only when there is one.
"""

from __future__ import annotations

import configparser
import getpass
import os
import sys
from pathlib import Path

import attrs

from virtkit.errors import ErrorCode, ErrorDomain, VirtError

SEARCHED = (
    "VIRTKIT_AUTH_FILE, LIBVIRT_AUTH_FILE, ~/.config/libvirt/auth.conf, /etc/libvirt/auth.conf"
)


class AuthError(VirtError):
    """No credentials could be found, or the auth file is malformed."""

    default_code = ErrorCode.AUTH_FAILED


@attrs.frozen(kw_only=True)
class Credentials:
    username: str
    password: str = attrs.field(repr=False)


def auth_file() -> Path | None:
    """The auth file in use, or None when there is none."""
    for var in ("VIRTKIT_AUTH_FILE", "LIBVIRT_AUTH_FILE"):
        value = os.environ.get(var)
        if value:
            path = Path(value)
            if not path.is_file():
                raise AuthError(
                    f"{var} names '{path}', which is not a file", domain=ErrorDomain.AUTH
                )
            return path
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    for path in (config_home / "libvirt" / "auth.conf", Path("/etc/libvirt/auth.conf")):
        if path.is_file():
            return path
    return None


def _from_file(path: Path, driver: str, host: str, username: str | None) -> Credentials | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise AuthError(
            f"auth file '{path}' is malformed: {exc}", domain=ErrorDomain.AUTH
        ) from None
    # as libvirt: the host's entry when there is one, else the default; never both
    candidates = (f"auth-{driver}-{host}", f"auth-{driver}-default")
    section = next((s for s in candidates if parser.has_section(s)), None)
    if section is None:
        return None
    name = parser.get(section, "credentials", fallback=None)
    if not name or not parser.has_section(f"credentials-{name}"):
        raise AuthError(
            f"auth file '{path}': [{section}] names credentials '{name}', but there is no "
            f"[credentials-{name}] section",
            domain=ErrorDomain.AUTH,
        )
    creds = parser[f"credentials-{name}"]
    # as libvirt: the URI's user wins over authname; the password is the set's either way
    user = username or creds.get("authname")
    password = creds.get("password")
    return Credentials(username=user, password=password) if user and password is not None else None


def credentials(driver: str, host: str, username: str | None) -> Credentials:
    """The user and password for ``driver`` on ``host``: from the auth file, else a prompt
    on the terminal. Raises :class:`AuthError` saying where it looked."""
    path = auth_file()
    if path is not None:
        found = _from_file(path, driver, host, username)
        if found is not None:
            return found
    if sys.stdin.isatty():
        user = username or input(f"Enter username for {host}: ")
        return Credentials(
            username=user, password=getpass.getpass(f"Enter {user}'s password for {host}: ")
        )
    where = f"the auth file '{path}' has" if path else f"there is no auth file ({SEARCHED}) with"
    raise AuthError(
        f"no password for {username or 'any user'} on {driver}://{host}: {where} no "
        f"[auth-{driver}-{host}] or [auth-{driver}-default] entry with a user and password, "
        "and no terminal to ask on",
        domain=ErrorDomain.AUTH,
    )
