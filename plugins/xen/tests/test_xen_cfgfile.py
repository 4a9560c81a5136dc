"""The xl/xm config file syntax: values, quoting, and errors that name the line."""

from __future__ import annotations

import pytest
from virtkit.errors import ConfigUnsupportedError
from virtkit.xml import parse_domain
from virtkit_xen.cfgfile import ConfigSyntaxError, format_settings, parse
from virtkit_xen.fromnative import native_to_xml
from virtkit_xen.libxl_json import domain_config
from virtkit_xen.tonative import definition_to_native


def test_values_round_trip() -> None:
    text = format_settings(
        [
            ("name", "g1"),
            ("memory", 128),
            ("disk", ["a,b", 'q"uote', "both'\"x"]),
            ("vnuma", [["pnode=0", "size=1"]]),
        ]
    )
    assert text.splitlines()[2] == 'disk = [ "a,b", \'q"uote\', """both\'"x""" ]'
    assert parse(text) == {
        "name": "g1",
        "memory": 128,
        "disk": ["a,b", 'q"uote', "both'\"x"],
        "vnuma": [["pnode=0", "size=1"]],
    }


def test_comments_and_multiline_lists() -> None:
    assert parse('# c\nvif = [\n  "mac=1",  # first\n  "mac=2",\n]\nmemory = 0x10\n') == {
        "vif": ["mac=1", "mac=2"],
        "memory": 16,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "g1\nmemory = 1\n', "line 1: unterminated string"),
        ('name = "g1"\nmemory 128\n', "line 2: expected '=' after 'memory'"),
        ('disk = [ "a" "b" ]\n', "line 1: expected ',' or ']'"),
        ("memory = lots\n", "line 1: expected a number"),
    ],
)
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigSyntaxError, match=message):
        parse(text)


def test_missing_name_is_an_error() -> None:
    with pytest.raises(ConfigSyntaxError, match="name was missing"):
        native_to_xml("memory = 128\n", "xl")


def test_wrong_type_is_an_error() -> None:
    with pytest.raises(ConfigSyntaxError, match="memory was malformed"):
        native_to_xml('name = "g"\nmemory = [ "1" ]\n', "xl")


def test_non_xen_domain_is_refused() -> None:
    with pytest.raises(ConfigUnsupportedError, match="'kvm'"):
        definition_to_native(
            "<domain type='kvm'><name>a</name><memory>1024</memory>"
            "<os><type>hvm</type></os></domain>",
            "xl",
        )


HVM_DIRECT_BOOT = """\
name = "hvm-kernel"
uuid = "c7a5fdb2-cdaf-9455-926a-d65c16db1809"
memory = 512
builder = "hvm"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd"
{cmdline}
boot = "c"
"""


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        ('cmdline = "console=ttyS0"', "console=ttyS0"),
        ('root = "/dev/xvda1"\nextra = "quiet"', "root=/dev/xvda1 quiet"),
        ('extra = "quiet"', "quiet"),
    ],
)
def test_hvm_guest_booting_a_kernel_directly(cmdline: str, expected: str) -> None:
    """libxl boots an HVM guest's kernel directly too: xl's kernel, ramdisk and command line
    (``cmdline``, else ``root`` and ``extra``) come and go with an HVM domain as with a PV one."""
    xml = native_to_xml(HVM_DIRECT_BOOT.format(cmdline=cmdline), "xl")
    assert "<loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>" in xml
    assert "<kernel>/boot/vmlinuz</kernel>\n    <initrd>/boot/initrd</initrd>" in xml
    assert f"<cmdline>{expected}</cmdline>" in xml
    cfg = definition_to_native(xml, "xl")
    assert (
        'builder = "hvm"\nkernel = "/boot/vmlinuz"\nramdisk = "/boot/initrd"\n'
        f'cmdline = "{expected}"\nboot = "c"\n'
    ) in cfg
    assert domain_config(parse_domain(xml))["b_info"]["kernel"] == "/boot/vmlinuz"
