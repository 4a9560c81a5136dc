"""xen-xl, xen-xm and xen-libxl-domconfig: libvirt's Xen config converter tests (see the
corpus README for each harness)."""

from __future__ import annotations

import json

import pytest
from virtkit.testing.conformance import Case, assert_target, cases, expected_text, run_corpus
from virtkit.xml import parse_domain
from virtkit_xen.fromnative import FIRMWARE_DIR, native_to_xml
from virtkit_xen.libxl_json import domain_config, normalise
from virtkit_xen.tonative import definition_to_native

pytestmark = pytest.mark.conformance


def _replace_vars(case: Case, text: str) -> str:
    """The harness's stand-in for the build's libxl firmware folder."""
    for placeholder in case.flags.get("replace_vars", {}):
        text = text.replace(placeholder, FIRMWARE_DIR)
    return text


def _checker(flavor: str):  # type: ignore[no-untyped-def]
    def check(case: Case) -> None:
        assert case.input is not None
        expected = _replace_vars(case, expected_text(case))
        source = _replace_vars(case, case.input.read_text(encoding="utf-8"))
        if case.direction == "cfg->xml":
            output = native_to_xml(source, flavor)  # type: ignore[arg-type]
        else:
            output = definition_to_native(source, flavor)  # type: ignore[arg-type]
        if output != expected:
            raise AssertionError("output differs from libvirt's")

    return check


@pytest.mark.parametrize("corpus", ["xen-xl", "xen-xm"])
@pytest.mark.parametrize("direction", ["cfg->xml", "xml->cfg"])
def test_native_config(corpus: str, direction: str) -> None:
    """At least 90% of libvirt's cases in each direction convert byte for byte."""
    name = f"{corpus} {direction}"
    items = [c for c in cases(corpus) if c.direction == direction]
    assert items, f"{corpus} lists no {direction} case"
    flavor = corpus.removeprefix("xen-")
    assert_target(name, run_corpus(name, items, _checker(flavor), target=0.9))


def check_domconfig(case: Case) -> None:
    """libvirt's harness loads both JSON documents into libxl, which fills in its defaults;
    :func:`normalise` drops what libxl treats as unset so both sides compare the same way."""
    assert case.input is not None and case.expected is not None
    legacy = "!LIBXL_HAVE_BUILDINFO_NESTED_HVM" in case.flags.get("only_if", [])
    definition = parse_domain(case.input.read_bytes())
    # libvirt's test mocks libxl_get_required_shadow_memory to return 1234
    output = domain_config(definition, legacy_nested=legacy, shadow_memkb=1234)
    if normalise(output) != normalise(json.loads(case.expected.read_text(encoding="utf-8"))):
        raise AssertionError("libxl domain config differs from libvirt's")


def test_libxl_domconfig() -> None:
    """At least 80% of libvirt's domain XML -> libxl_domain_config cases match."""
    name = "xen-libxl-domconfig"
    assert_target(name, run_corpus(name, cases(name), check_domconfig, target=0.8))


def test_normalise_keeps_real_differences() -> None:
    """The semantic comparison ignores only libxl's unset values, not real settings."""
    assert normalise({"on_poweroff": "destroy", "sched_params": {}}) == {}
    assert normalise({"on_poweroff": "restart"}) == {"on_poweroff": "restart"}
    assert normalise({"b_info": {"max_vcpus": 2}}) != normalise({"b_info": {"max_vcpus": 4}})
