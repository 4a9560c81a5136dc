"""The lookups the canonical steps and checks use in place of lxml's find: same elements."""

from __future__ import annotations

import pytest
from lxml import etree
from virtkit.xml.canonical.order import device_children, first_child, first_child_with
from virtkit.xml.search import find_all, find_first

DOMAIN = etree.fromstring(
    """<domain type='kvm'>
  <name>s</name>
  <!-- a comment among the children -->
  <cpu><numa><cell id='0' memory='1'/></numa></cpu>
  <cpu><numa><cell id='1'/></numa></cpu>
  <devices>
    <disk><address type='pci' slot='1'/><target dev='vda'/></disk>
    <console><target type='virtio'/><target type='serial'/></console>
    <hostdev mode='capabilities'/><hostdev mode='subsystem'/>
    <x:disk xmlns:x='urn:other'/>
    <controller><address type='pci'/><address type='drive'/></controller>
  </devices>
  <devices><disk/></devices>
</domain>"""
)

PATHS = [
    "name",
    "cpu/numa",
    "cpu/numa/cell",
    "cpu/numa/cell[@memory]",
    "devices/disk",
    "devices//address[@type='pci']",
    "devices/hostdev[@mode='subsystem']",
    "devices/missing",
]


@pytest.mark.parametrize("path", PATHS)
def test_find_all_and_find_first_match_lxml(path: str) -> None:
    assert find_all(DOMAIN, path) == DOMAIN.findall(path)
    assert find_first(DOMAIN, path) is DOMAIN.find(path)


def test_a_union_gives_its_paths_matches_in_document_order() -> None:
    found = find_all(DOMAIN, "devices/console | name | devices/disk")
    assert [el.tag for el in found] == ["name", "disk", "console", "disk"]


def test_child_lookups_match_lxml() -> None:
    devices = DOMAIN.find("devices")
    console = DOMAIN.find("devices/console")
    assert first_child(DOMAIN, "devices") is devices
    assert first_child(DOMAIN, "missing") is None
    assert first_child_with(console, "target", "type", "serial") is console.find(
        "target[@type='serial']"
    )
    assert first_child_with(console, "target", "type", "tcp") is None
    tags = ("disk", "hostdev")
    expected = [el for d in DOMAIN.findall("devices") for el in d if el.tag in tags]
    assert list(device_children(DOMAIN, *tags)) == expected
