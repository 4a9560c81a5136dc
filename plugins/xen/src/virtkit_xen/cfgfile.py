"""The file syntax shared by xl.cfg(5) and the legacy xm config: ``key = value`` lines whose
values are integers, quoted strings or ``[ ... ]`` lists of them, with ``#`` comments.

Strings have no escapes: a value holding a double quote is written between single quotes, one
holding both kinds between triple double quotes (libvirt's writer does the same).
"""

from __future__ import annotations

from typing import Any

from virtkit.errors import ErrorCode, VirtError

Scalar = int | str
Value = Scalar | list[Any]  # list items are Scalar or nested lists


class ConfigSyntaxError(VirtError):
    """A Xen config that does not parse, or a value of the wrong type."""

    default_code = ErrorCode.CONF_SYNTAX


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> ConfigSyntaxError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ConfigSyntaxError(f"Xen config line {line}: {what}")

    def skip(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif ch in " \t\r" or (newlines and ch in "\n;"):
                self.pos += 1
            else:
                return

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_.-"
        ):
            self.pos += 1
        if start == self.pos:
            raise self.error(f"expected a setting name, found {self.text[self.pos]!r}")
        return self.text[start : self.pos]

    def scalar(self) -> Scalar:
        text, pos = self.text, self.pos
        for quote in ('"""', "'''", '"', "'"):
            if text.startswith(quote, pos):
                end = text.find(quote, pos + len(quote))
                if end < 0 or (len(quote) == 1 and "\n" in text[pos:end]):
                    raise self.error("unterminated string")
                self.pos = end + len(quote)
                return text[pos + len(quote) : end]
        start = pos
        while self.pos < len(text) and (text[self.pos].isalnum() or text[self.pos] in "+-"):
            self.pos += 1
        word = text[start : self.pos]
        try:
            return int(word, 0)
        except ValueError:
            raise self.error(
                f"expected a number, a string or a list, found {word or text[start : start + 1]!r}"
            ) from None

    def value(self) -> Value:
        if not self.text.startswith("[", self.pos):
            return self.scalar()
        self.pos += 1
        items: list[Value] = []
        while True:
            self.skip(newlines=True)
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            items.append(self.value())
            self.skip(newlines=True)
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.error("expected ',' or ']' in a list")


def parse(text: str) -> dict[str, Value]:
    """The settings of a config file, in file order (a repeated key keeps its last value)."""
    reader = _Reader(text)
    settings: dict[str, Value] = {}
    while True:
        reader.skip(newlines=True)
        if reader.pos >= len(text):
            return settings
        key = reader.name()
        reader.skip(newlines=False)
        if not text.startswith("=", reader.pos):
            raise reader.error(f"expected '=' after {key!r}")
        reader.pos += 1
        reader.skip(newlines=False)
        settings.pop(key, None)
        settings[key] = reader.value()
        reader.skip(newlines=False)
        if reader.pos < len(text) and text[reader.pos] not in "\n;#":
            raise reader.error(f"unexpected text after the value of {key!r}")


def _quote(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return f'"""{value}"""'


def _value(value: Value) -> str:
    if isinstance(value, list):
        return "[ " + ", ".join(_value(v) for v in value) + " ]" if value else "[  ]"
    return str(value) if isinstance(value, int) else _quote(value)


def format_settings(settings: list[tuple[str, Value]]) -> str:
    """The config file text of ``settings``, one ``key = value`` line each."""
    lines = []
    for key, value in settings:
        lines.append(f"{key} = {_value(value)}\n")
    return "".join(lines)
