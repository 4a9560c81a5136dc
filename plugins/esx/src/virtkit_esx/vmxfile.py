"""The ``.vmx`` file format: ``key = "value"`` lines, keys compared without case.

Values escape characters as ``|XX`` (hex); :func:`unescape` and :func:`escape` undo and do it.
"""

from __future__ import annotations

import re

from virtkit.errors import ConfigUnsupportedError, VirtError

_LINE = re.compile(r'^\s*([A-Za-z0-9_.:\-]+)\s*=\s*"(.*)"\s*$')
_HEX = re.compile(r"\|([0-9A-Fa-f]{2})")


class VMXError(VirtError):
    """A ``.vmx`` file or one of its entries is not what the converter can read."""

    default_code = ConfigUnsupportedError.default_code


class VMXConfig:
    """The entries of one ``.vmx`` file; lookups ignore the case of keys."""

    def __init__(self, entries: dict[str, str]) -> None:
        self._entries = {k.lower(): v for k, v in entries.items()}

    @classmethod
    def parse(cls, text: str) -> VMXConfig:
        """Read ``text``; raise :class:`VMXError` naming the first line that is not an entry."""
        entries: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            match = _LINE.match(stripped)
            if match is None:
                raise VMXError(f"VMX line {number}: expected 'key = \"value\"', got {stripped!r}")
            entries[match.group(1)] = match.group(2)
        return cls(entries)

    def string(self, key: str) -> str | None:
        return self._entries.get(key.lower())

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.string(key)
        if value is None:
            return default
        if value.lower() == "true":
            return True
        if value.lower() == "false":
            return False
        raise VMXError(f"VMX entry '{key}' must be 'true' or 'false', not {value!r}")

    def integer(self, key: str, default: int | None = None) -> int | None:
        """The entry as an integer; ``unlimited`` counts as -1, as VMware writes it."""
        value = self.string(key)
        if value is None or value == "":
            return default
        if value.lower() == "unlimited":
            return -1
        try:
            return int(value)
        except ValueError:
            raise VMXError(f"VMX entry '{key}' must be an integer, not {value!r}") from None

    def uuid(self, key: str) -> str | None:
        """A VMware UUID (``56 4d b5 06 ... 49 27 d0 c4``) in the usual dashed form."""
        value = self.string(key)
        if value is None:
            return None
        digits = value.replace(" ", "").replace("-", "")
        if not re.fullmatch(r"[0-9A-Fa-f]{32}", digits):
            raise VMXError(f"VMX entry '{key}' is not a UUID: {value!r}")
        d = digits.lower()
        return f"{d[:8]}-{d[8:12]}-{d[12:16]}-{d[16:20]}-{d[20:]}"


def unescape(value: str) -> str:
    """``|22`` back to ``"``."""
    return _HEX.sub(lambda m: chr(int(m.group(1), 16)), value)


def escape(value: str, chars: str = '"|') -> str:
    """``"`` as ``|22``: the characters a ``.vmx`` value cannot hold plainly."""
    return "".join(f"|{ord(c):02X}" if c in chars else c for c in value)


def format_vmx(entries: list[tuple[str, str]]) -> str:
    """The ``.vmx`` text of ``entries`` in order."""
    return "".join(f'{key} = "{value}"\n' for key, value in entries)


def vmware_uuid(value: str) -> str:
    """A dashed UUID as VMware writes it: ``50 11 5e 16 9b dc 49 d7-f1 71 53 c4 d7 f9 17 10``."""
    d = value.replace("-", "").lower()
    pairs = [d[i : i + 2] for i in range(0, 32, 2)]
    return " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])
