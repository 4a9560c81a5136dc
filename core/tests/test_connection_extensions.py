"""Extensions handed to ``virtkit.open`` by a program, and plugins that do not fit the specs."""

from __future__ import annotations

import pytest
import virtkit
from virtkit.errors import HookVetoError, NoConnectError


class RefuseDestroy:
    """A program's own extension: wraps destroy and refuses it."""

    @virtkit.hookimpl(wrapper=True)
    def virtkit_domain_destroy(self, dom):  # type: ignore[no-untyped-def]
        raise HookVetoError(f"destroying {dom.name} is not allowed here")
        yield  # pragma: no cover - a wrapper is a generator


class Misspelt:
    @virtkit.hookimpl
    def virtkit_domain_destroyy(self) -> None:  # not a hook of virtkit's
        pass


def test_an_extension_given_to_open_wraps_that_connection_only() -> None:
    with virtkit.open("test:///default", extensions=[RefuseDestroy()]) as guarded:
        with pytest.raises(HookVetoError, match="destroying test is not allowed"):
            guarded.lookup_by_name("test").destroy()
        assert guarded.lookup_by_name("test").is_active()
    with virtkit.open("test:///default") as plain:
        dom = plain.lookup_by_name("test")
        dom.destroy()  # another connection is not guarded
        assert not dom.is_active()
        dom.create()


def test_a_plugin_with_an_unknown_hook_is_refused_at_open() -> None:
    with pytest.raises(NoConnectError, match="does not fit virtkit's hook specifications"):
        virtkit.open("test:///default", extensions=[Misspelt()])
