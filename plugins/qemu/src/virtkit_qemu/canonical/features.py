"""The QEMU driver's feature defaults."""

from __future__ import annotations

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.order import DOMAIN_ORDER, FEATURES_ORDER, first_child, insert_child

from virtkit_qemu.canonical.context import accel_of, caps_of, is_arm_virt, platform_of


@creates("features", "gic")
def default_gic(root: etree._Element, ctx: Context) -> None:
    """An ARM ``virt`` guest has a GIC; without a version it gets the one the accelerator
    provides."""
    if not is_arm_virt(*platform_of(root, caps_of(ctx))):
        return
    features = first_child(root, "features")
    if features is None:
        features = insert_child(root, "features", DOMAIN_ORDER)
    gic = first_child(features, "gic")
    if gic is None:
        gic = insert_child(features, "gic", FEATURES_ORDER)
    if gic.get("version") is None:
        gic.set("version", str(caps_of(ctx).gic_version(accel_of(root))))


#: on/off features whose bare element means "on"
_SWITCHES = ("pmu", "vmcoreinfo", "pvspinlock", "htm", "nested-hv", "ccf-assist")


@acts_on("features")
@creates()
def feature_switches(root: etree._Element, ctx: Context) -> None:
    """A switch feature written without a state is on."""
    for features in root.iterchildren("features"):
        for feature in features.iterchildren(*_SWITCHES):
            if feature.get("state") is None:
                feature.set("state", "on")
