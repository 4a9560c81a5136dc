"""Tests of the example driver through virtkit's public API, as its users call it.

Run them with ``pip install -e '.[test]' && pytest`` from the plugin's folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import virtkit
from virtkit.constants import DomainState
from virtkit.errors import (
    ConfigUnsupportedError,
    DomainExistsError,
    HookVetoError,
    NoDomainError,
    NoSupportError,
    OperationInvalidError,
)

URI = "example:///"
XML = "<domain type='test'><name>vm1</name><memory unit='MiB'>128</memory></domain>"


@pytest.fixture
def conn() -> Iterator[virtkit.Connection]:
    with virtkit.open(URI) as connection:
        yield connection


def test_connection_reports_the_driver(conn: virtkit.Connection) -> None:
    assert conn.get_type() == "Example"
    assert conn.get_uri() == URI
    assert conn.list_all_domains() == []


def test_define_start_destroy_undefine(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(XML)
    assert dom.name() == "vm1"
    assert dom.state()[0] == DomainState.SHUTOFF
    assert conn.lookup_by_uuid_string(dom.uuid_string()) == dom
    assert "<name>vm1</name>" in dom.xml_desc()
    dom.create()
    assert dom.is_active() and dom.id() > 0
    assert conn.lookup_by_id(dom.id()) == dom
    with pytest.raises(OperationInvalidError):
        dom.create()
    dom.destroy()
    assert dom.state()[0] == DomainState.SHUTOFF
    dom.undefine()
    with pytest.raises(NoDomainError):
        conn.lookup_by_name("vm1")


def test_define_refuses_a_name_taken_by_another_uuid(conn: virtkit.Connection) -> None:
    conn.define_xml(XML)
    with pytest.raises(DomainExistsError, match="vm1"):
        conn.define_xml(
            XML.replace("<name>vm1</name>", "<name>vm1</name><uuid>" + "1" * 32 + "</uuid>")
        )


def test_unknown_domain_type_is_refused(conn: virtkit.Connection) -> None:
    with pytest.raises(ConfigUnsupportedError, match="type='kvm'"):
        conn.define_xml(XML.replace("'test'", "'kvm'"))
    assert conn.list_all_domains() == []


def test_operations_not_implemented_name_the_driver(conn: virtkit.Connection) -> None:
    dom = conn.define_xml(XML)
    with pytest.raises(NoSupportError, match="Example driver does not implement domain_suspend"):
        dom.suspend()


VETO_EXTENSION = """
import virtkit
from virtkit.errors import HookVetoError

@virtkit.hookimpl
def virtkit_domain_hook(event, name):
    if event == "start":
        raise HookVetoError(f"{name} may not start today")
"""


@pytest.fixture
def veto_extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install an extension that refuses every start, as its distribution would: a module and
    an entry point of group ``virtkit.plugins``, on ``sys.path``."""
    (tmp_path / "veto_ext.py").write_text(VETO_EXTENSION)
    info = tmp_path / "veto_ext-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: veto-ext\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[virtkit.plugins]\nveto = veto_ext\n")
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("veto_extension")
def test_extensions_can_veto_a_start() -> None:
    with virtkit.open(URI) as conn:
        dom = conn.define_xml(XML)
        with pytest.raises(HookVetoError, match="may not start today"):
            dom.create()
        assert not dom.is_active()
