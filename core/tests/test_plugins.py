"""Driver loading by URI scheme, extensions, and the operators' environment variables.

Each test installs throwaway distributions (see ``install_plugin`` in conftest.py).
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable

import pytest
import virtkit
from virtkit.errors import ErrorCode, NoConnectError, NoSupportError
from virtkit.inventory import installed_plugins
from virtkit.plugins import DRIVER_GROUP, EXTENSION_GROUP, missing_driver_message

InstallPlugin = Callable[..., None]

DRIVER_SOURCE = """
from virtkit import hookimpl

class Driver:
    name = "{name}"

    def __init__(self, ctx):
        if ctx.uri.path not in ("", "/"):
            from virtkit.errors import NoConnectError
            raise NoConnectError(f"{name} serves only {scheme}:///, not path {{ctx.uri.path!r}}")
        self.ctx = ctx

    @hookimpl
    def virtkit_connect_list_domains(self):
        return []

    @hookimpl
    def virtkit_connect_lookup_domain(self, name, uuid, id):
        return None
"""


def driver_module(name: str, scheme: str) -> str:
    return DRIVER_SOURCE.format(name=name, scheme=scheme)


@pytest.fixture(autouse=True)
def _no_operator_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VIRTKIT_LOAD_PLUGINS", "VIRTKIT_DISABLE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


def test_only_the_named_driver_is_imported(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver", "beta": "vk_beta:Driver"}},
        modules={
            "vk_alpha": driver_module("Alpha", "alpha"),
            "vk_beta": driver_module("Beta", "beta"),
        },
    )
    with virtkit.open("alpha:///") as conn:
        assert conn.get_type() == "Alpha"
        assert conn.list_all_domains() == []
    assert "vk_alpha" in sys.modules
    assert "vk_beta" not in sys.modules


def test_transport_is_stripped_before_loading(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver"}},
        modules={"vk_alpha": driver_module("Alpha", "alpha")},
    )
    with virtkit.open("alpha+ssh://user@host/") as conn:
        assert conn.uri.transport == "ssh" and conn.get_type() == "Alpha"


def test_unknown_scheme_names_the_distribution_to_install() -> None:
    with pytest.raises(NoConnectError) as info:
        virtkit.open("nosuchdriver:///")
    assert info.value.code == ErrorCode.NO_CONNECT
    assert "'nosuchdriver'" in info.value.message
    assert "pip install virtkit-nosuchdriver" in info.value.message
    assert "pip install virtkit-qemu" in missing_driver_message("qemu")
    assert "pip install virtkit-esx" in missing_driver_message("vpx")


def test_two_plugins_claiming_one_scheme_is_an_error(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-dup-one",
        entry_points={DRIVER_GROUP: {"dup": "vk_dup_one:Driver"}},
        modules={"vk_dup_one": driver_module("One", "dup")},
    )
    install_plugin(
        "virtkit-dup-two",
        entry_points={DRIVER_GROUP: {"dup": "vk_dup_two:Driver"}},
        modules={"vk_dup_two": driver_module("Two", "dup")},
    )
    with pytest.raises(NoConnectError) as info:
        virtkit.open("dup:///")
    message = info.value.message
    assert "several plugins claim URI scheme 'dup'" in message
    assert "vk_dup_one:Driver" in message and "vk_dup_two:Driver" in message


def test_a_driver_that_fails_to_import_is_reported(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-broken",
        entry_points={DRIVER_GROUP: {"broken": "vk_broken:Driver"}},
        modules={"vk_broken": "import a_module_that_is_not_there\n"},
    )
    with pytest.raises(NoConnectError) as info:
        virtkit.open("broken:///")
    assert "the driver for URI scheme 'broken' failed to load" in info.value.message
    assert "a_module_that_is_not_there" in info.value.message


def test_the_driver_refuses_a_uri_it_does_not_serve(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver"}},
        modules={"vk_alpha": driver_module("Alpha", "alpha")},
    )
    with pytest.raises(NoConnectError, match="Alpha serves only alpha:///, not path '/system'"):
        virtkit.open("alpha:///system")


def test_unimplemented_operations_raise_no_support(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver"}},
        modules={"vk_alpha": driver_module("Alpha", "alpha")},
    )
    with virtkit.open("alpha:///") as conn:
        assert conn.supports("connect_list_domains")
        assert not conn.supports("domain_define")
        with pytest.raises(NoSupportError) as info:
            conn.define_xml("<domain type='test'><name>x</name></domain>")
        assert info.value.code == ErrorCode.NO_SUPPORT
        assert "the Alpha driver does not implement domain_define" in info.value.message
        with pytest.raises(
            NoSupportError, match="Alpha driver does not implement connect_get_hostname"
        ):
            conn.get_hostname()


def test_disable_plugins_blocks_a_driver(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver"}},
        modules={"vk_alpha": driver_module("Alpha", "alpha")},
    )
    monkeypatch.setenv("VIRTKIT_DISABLE_PLUGINS", "gamma, alpha")
    with pytest.raises(
        NoConnectError,
        match="scheme 'alpha' is disabled by VIRTKIT_DISABLE_PLUGINS='gamma, alpha'",
    ):
        virtkit.open("alpha:///")
    assert "vk_alpha" not in sys.modules
    monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "alpha")  # disabling wins over loading
    with pytest.raises(NoConnectError, match="disabled by VIRTKIT_DISABLE_PLUGINS"):
        virtkit.open("alpha:///")
    assert "vk_alpha" not in sys.modules


def test_load_plugins_set_but_empty_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "")
    with pytest.raises(
        NoConnectError, match="scheme 'test' is disabled by VIRTKIT_LOAD_PLUGINS=''"
    ):
        virtkit.open("test:///default")


def test_load_plugins_allows_only_the_listed(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_audit(install_plugin)
    monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "test")
    with virtkit.open("test:///default") as conn:
        conn.list_all_domains()
        assert "vk_audit" not in sys.modules
    with pytest.raises(NoConnectError, match="disabled by VIRTKIT_LOAD_PLUGINS='test'"):
        virtkit.open("alpha:///")
    monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "test,audit")
    with virtkit.open("test:///default") as conn:
        conn.list_all_domains()
    assert sys.modules["vk_audit"].calls == ["list"]


def test_disable_plugins_blocks_an_extension(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_audit(install_plugin)
    monkeypatch.setenv("VIRTKIT_DISABLE_PLUGINS", "audit")
    with virtkit.open("test:///default") as conn:
        conn.list_all_domains()
    assert "vk_audit" not in sys.modules
    listed = {(p.kind, p.name) for p in installed_plugins()}  # `virtkit plugins` agrees
    assert ("extension", "audit") not in listed and ("driver", "test") in listed


def install_audit(install_plugin: InstallPlugin) -> None:
    """Install extension 'audit' (module ``vk_audit``), which records connection listings."""
    install_plugin(
        "virtkit-audit",
        entry_points={EXTENSION_GROUP: {"audit": "vk_audit:plugin"}},
        modules={"vk_audit": AUDIT_SOURCE},
    )


AUDIT_SOURCE = """
from virtkit import hookimpl

calls = []

class Audit:
    @hookimpl(wrapper=True)
    def virtkit_connect_list_domains(self):
        calls.append("list")
        return (yield)

plugin = Audit()
"""


def test_a_misspelt_extension_hook_fails_at_once(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-typo",
        entry_points={EXTENSION_GROUP: {"typo": "vk_typo:plugin"}},
        modules={
            "vk_typo": """
                from virtkit import hookimpl

                class Typo:
                    @hookimpl
                    def virtkit_domain_strat(self, dom):
                        pass

                plugin = Typo()
            """
        },
    )
    with pytest.raises(NoConnectError, match="virtkit_domain_strat") as info:
        virtkit.open("test:///default")
    assert "does not fit virtkit's hook specifications" in info.value.message


def test_the_test_driver_ships_through_the_public_entry_point() -> None:
    (entry,) = [
        ep for ep in importlib.metadata.entry_points(group=DRIVER_GROUP) if ep.name == "test"
    ]
    assert entry.value == "virtkit.drivers.test:TestDriver"
    assert entry.dist is not None and entry.dist.metadata["Name"] == "virtkit"


def test_installed_plugins_lists_drivers_and_extensions(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "virtkit-alpha",
        entry_points={DRIVER_GROUP: {"alpha": "vk_alpha:Driver"}},
        modules={"vk_alpha": driver_module("Alpha", "alpha")},
        version="2.5",
    )
    install_audit(install_plugin)
    install_plugin(
        "virtkit-broken",
        entry_points={DRIVER_GROUP: {"broken": "vk_broken:Driver"}},
        modules={"vk_broken": "raise RuntimeError('cannot import me')\n"},
    )
    found = {(p.kind, p.name): p for p in installed_plugins()}
    alpha = found["driver", "alpha"]
    assert (alpha.distribution, alpha.version, alpha.target) == (
        "virtkit-alpha",
        "2.5",
        "vk_alpha:Driver",
    )
    assert alpha.hooks == ("virtkit_connect_list_domains", "virtkit_connect_lookup_domain")
    assert found["extension", "audit"].hooks == ("virtkit_connect_list_domains",)
    assert "cannot import me" in (found["driver", "broken"].error or "")
    assert "virtkit_snapshot_create" in found["driver", "test"].hooks


class TestDefaultURI:
    @pytest.fixture(autouse=True)
    def _clean(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("VIRTKIT_DEFAULT_URI", raising=False)
        monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)

    def test_virtkit_variable_comes_first(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VIRTKIT_DEFAULT_URI", "test:///default")
        monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu:///system")
        assert virtkit.default_uri() == "test:///default"
        with virtkit.open() as conn:
            assert conn.get_uri() == "test:///default"

    def test_then_libvirt_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
        assert virtkit.default_uri() == "test:///default"
        with virtkit.open_read_only() as conn:
            assert conn.get_uri() == "test:///default" and conn.is_read_only()

    def test_then_a_probe_of_the_installed_drivers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "test")
        assert virtkit.default_uri() == "test:///default"

    def test_nothing_to_probe_is_a_clear_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VIRTKIT_LOAD_PLUGINS", "none-of-them")
        with pytest.raises(NoConnectError, match="set VIRTKIT_DEFAULT_URI"):
            virtkit.open()
