"""A parsed definition keeps its lxml tree as the one ``tree()`` copies, and a canonical
result wraps the tree its steps made: both must equal what the model itself builds."""

from __future__ import annotations

import attrs
import pytest
from lxml import etree
from virtkit.errors import XMLError
from virtkit.xml import Context, DomainDef, canonical, format_domain, parse_domain

#: values the model writes in another form, whitespace and tails it drops, unknown elements
#: with their own indentation, several attributes in input order
MESSY = """<?xml version='1.0'?>
<domain  id='007' type="kvm" >
  <name>messy</name>
  <uuid> 6BA7B810-9DAD-11D1-80B4-00C04FD430C8 </uuid>
  <memory unit='MiB'> 0128 </memory>
  <vcpu current='01' placement='static'>2</vcpu>
  <os>
    <type machine='pc' arch='x86_64'>hvm</type>
  </os>
  <clock offset='utc'>
      <timer   name='rtc'
             tickpolicy='catchup'/>
  </clock>
  <devices>
    <disk device='disk' type='file'>
      <source file='/img/a &amp; b.qcow2'/>
      <target bus='virtio' dev='vda'/>
    </disk>
  </devices>
</domain>
"""


def built(definition: DomainDef) -> bytes:
    """The tree the model builds (a copy of the definition keeps no tree)."""
    copy = attrs.evolve(definition)
    assert copy._built is None
    return etree.tostring(copy.tree())


def test_parsed_tree_is_what_the_model_builds() -> None:
    definition = parse_domain(MESSY)
    assert definition._built is not None, "the parsed tree was not kept"
    kept = etree.tostring(definition.tree())
    assert kept == built(definition)
    assert b"0128" not in kept and b"6ba7b810-9dad-11d1-80b4-00c04fd430c8" in kept
    assert definition.tree() is not definition.tree()  # a fresh copy each time


def test_parsed_tree_with_comments_or_namespaces_is_built_from_the_model() -> None:
    commented = MESSY.replace("<devices>", "<devices><!-- a comment -->")
    spaced = MESSY.replace("</devices>", "</devices><metadata><a:x xmlns:a='urn:a'/></metadata>")
    for text in (commented, spaced):
        definition = parse_domain(text)
        assert definition._built is None
        assert etree.tostring(definition.tree()) == built(definition)
    # the adopted parse serializes its unknown elements only when read: same model all the same
    adopted, eager = parse_domain(MESSY), parse_domain(commented)
    assert adopted == eager and hash(adopted) == hash(eager)
    assert adopted.to_xml() == eager.to_xml()


def test_canonical_result_models_its_children_when_read() -> None:
    result = canonical(parse_domain(MESSY), context=Context(arch="x86_64", inactive=True))
    formatted = format_domain(result, inactive=True)
    eager = DomainDef.from_xml(result.tree())
    assert result.children == eager.children  # modelled from the tree on first read
    assert result == eager and hash(result) == hash(eager)
    assert result.memory_kib == 131072 and result.vcpus == 2
    assert format_domain(result, inactive=True) == formatted


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('type="kvm"', 'type="kvmm"'),  # an enumerated attribute
        ("<name>messy</name>", "<name> </name>"),  # a rule of <domain> itself
        (">2</vcpu>", ">0</vcpu>"),  # a rule of a modelled child
        ("<memory unit='MiB'>", "<memory unit='MiX'>"),
        ("<uuid> 6BA7B810", "<uuid> 6BA7B81"),  # a typed text
    ],
)
def test_parsed_tree_is_checked_as_the_model_is(old: str, new: str) -> None:
    """An adopted parse checks the tree without building the model: it must refuse what the
    model refuses, with the same message."""
    bad = MESSY.replace(old, new)
    assert bad != MESSY
    with pytest.raises(XMLError) as adopted:
        parse_domain(bad)
    with pytest.raises(XMLError) as eager:
        parse_domain(bad.replace("<devices>", "<devices><!-- built from the model -->"))
    assert str(adopted.value) == str(eager.value)


def test_parsed_definition_reads_identity_from_its_tree() -> None:
    definition = parse_domain(MESSY)
    assert definition.name == "messy" and definition.vcpus == 2
    assert str(definition.uuid) == "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
    assert definition.memory_kib == 131072  # read from the model, built now
    assert definition.children == DomainDef.from_xml(definition.tree()).children
