"""What the start-up shortcuts must not change: every constant is where it was, and the plugin
manager finds the same hooks however a plugin defines them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import attrs
import pluggy
import pytest
from virtkit import constants, stop_constants
from virtkit.hookspecs import hookimpl
from virtkit.plugins import new_plugin_manager
from virtkit.records import JobInfo

LATER = sorted(constants._LATER)


@pytest.mark.parametrize("name", LATER)
def test_a_constant_built_on_first_use_is_the_stop_constants_one(name: str) -> None:
    assert getattr(constants, name) is getattr(stop_constants, name)
    assert name in dir(constants)


def test_the_tables_pair_states_and_events_with_their_enumerations() -> None:
    from virtkit.constants import EVENT_DETAILS, REASONS, DomainEventType, DomainState

    assert REASONS[DomainState.SHUTDOWN] is constants.DomainShutdownReason
    assert EVENT_DETAILS[DomainEventType.CRASHED] is constants.DomainEventCrashedDetail


def test_an_unknown_constant_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchFlags'"):
        _ = constants.NoSuchFlags


def test_listing_domains_builds_no_stop_constant() -> None:
    probe = (
        "import sys, virtkit\n"
        "with virtkit.open('test:///default') as conn: conn.list_all_domains()\n"
        "print('virtkit.stop_constants' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout) == (0, "False\n"), result.stderr


class _Base:
    @hookimpl
    def virtkit_connect_get_hostname(self) -> str:
        return "from-a-base-class"


class _Plugin(_Base):
    evaluated = False

    @property
    def virtkit_connect_get_version(self) -> int:  # a property is never a hook
        type(self).evaluated = True
        return 1

    @staticmethod
    @hookimpl
    def virtkit_connect_get_capabilities() -> str:
        return "<capabilities/>"


def test_hooks_are_found_in_base_classes_and_static_methods_without_running_properties() -> None:
    pm = new_plugin_manager()
    plugin = _Plugin()
    plugin.virtkit_connect_close = hookimpl(lambda: None)  # type: ignore[attr-defined]
    pm.register(plugin, name="plugin")
    assert pm.hook.virtkit_connect_get_hostname() == "from-a-base-class"
    assert pm.hook.virtkit_connect_get_capabilities() == "<capabilities/>"
    assert [impl.plugin for impl in pm.hook.virtkit_connect_close.get_hookimpls()] == [plugin]
    assert not pm.hook.virtkit_connect_get_version.get_hookimpls()
    assert not _Plugin.evaluated


def test_records_print_as_attrs_would() -> None:
    job = JobInfo(operation="save", data_total=3, stats={"downtime": 7})
    twin = attrs.make_class("JobInfo", [a.name for a in attrs.fields(JobInfo)], frozen=True)
    values = {a.name: getattr(job, a.name) for a in attrs.fields(JobInfo)}
    assert repr(job) == repr(twin(**values))
    assert "data_total=3" in repr(job)


def test_the_records_repr_honours_each_fields_repr_option() -> None:
    from virtkit.records import _Record

    def shape() -> dict[str, Any]:  # fresh fields for each class
        return {
            "shown": attrs.field(),
            "secret": attrs.field(repr=False),
            "hexed": attrs.field(repr=hex),
        }

    mine = attrs.make_class("Shape", shape(), bases=(_Record,), frozen=True, repr=False)
    twin = attrs.make_class("Shape", shape(), frozen=True)
    assert repr(mine(1, "pw", 255)) == repr(twin(1, "pw", 255)) == "Shape(shown=1, hexed=0xff)"


def test_the_manager_reads_the_same_specifications_as_pluggy() -> None:
    from virtkit import hookspecs

    plain = pluggy.PluginManager(hookspecs.PROJECT)
    plain.add_hookspecs(hookspecs)
    ours = new_plugin_manager()

    def specs(pm: pluggy.PluginManager) -> dict[str, Any]:
        return {name: caller.spec.opts for name, caller in vars(pm.hook).items() if caller.spec}

    assert specs(ours) == specs(plain)
    assert "virtkit_connect_list_domains" in specs(ours)
