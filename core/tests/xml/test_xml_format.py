"""format_domain: live and inactive forms, secrets."""

from __future__ import annotations

from virtkit.xml import canonical, format_domain, parse_domain, validate

SOURCE = """<domain type='kvm'>
  <name>f</name>
  <memory>1024</memory>
  <os><type>hvm</type></os>
  <devices>
    <graphics type='vnc' port='5901' autoport='no' passwd='s3cret' keymap='de'/>
    <graphics type='spice' autoport='yes'/>
    <interface type='network'>
      <source network='default'/>
      <target dev='vnet3'/>
      <alias name='net0'/>
    </interface>
  </devices>
</domain>
"""


def test_secrets_only_with_secure() -> None:
    d = canonical(parse_domain(SOURCE))
    assert "passwd='s3cret'" in format_domain(d, secure=True)
    plain = format_domain(d)
    assert "passwd" not in plain and "keymap='de'" in plain
    validate(plain)


def test_live_form_carries_the_id() -> None:
    d = canonical(parse_domain(SOURCE))
    assert format_domain(d, id=3).startswith("<domain type='kvm' id='3'>\n")
    assert format_domain(d, id=3, inactive=True).startswith("<domain type='kvm'>\n")
    assert format_domain(d).startswith("<domain type='kvm'>\n")


def test_inactive_form_drops_live_values() -> None:
    d = canonical(parse_domain(SOURCE))
    live = format_domain(d)
    inactive = format_domain(d, inactive=True)
    assert "<target dev='vnet3'/>" in live and "<alias name='net0'/>" in live
    assert "vnet3" not in inactive and "<alias" not in inactive
    assert "port='5901'" in inactive  # a port the user chose is configuration
    validate(inactive)


def test_containers_libvirt_never_writes_empty_keep_both_tags() -> None:
    """``<devices>``, and ``<hyperv>`` with no enlightenment listed (``mode='passthrough'``),
    come out with an open and a close tag, as libvirt's formatter writes them; an empty
    ``<acpi/>`` stays self-closed."""
    d = parse_domain(
        "<domain type='kvm'><name>h</name><memory>1024</memory><os><type>hvm</type></os>"
        "<features><acpi/><hyperv mode='passthrough'/></features><devices/></domain>"
    )
    text = d.to_xml()
    assert "    <acpi/>\n    <hyperv mode='passthrough'>\n    </hyperv>\n" in text
    assert "  <devices>\n  </devices>\n" in text
