"""libvirt's canonical form of a domain: the post-parse defaults, as a pipeline of small steps.

Each step takes the mutable lxml ``<domain>`` and a :class:`Context` and changes the tree in
place. :data:`GENERIC_STEPS` is what libvirt's driver-independent parser does; a driver
extends it with its own defaults::

    steps = (*GENERIC_STEPS[:-2], add_default_controllers, *GENERIC_STEPS[-2:])
    canonical(definition, steps=steps)

The ordering steps come last so that anything added earlier lands in libvirt's order. A
step marked with :func:`acts_on` is skipped in a tree without the elements it acts on, and a
marked step that creates elements says which with :func:`creates` (see
:mod:`~virtkit.xml.canonical.census`). Steps
work on the lxml tree, not on the typed model, so that they reach elements the model keeps
verbatim (``<cputune>``, character devices, ...); the result is a
:class:`~virtkit.xml.domain.DomainDef` wrapping the tree: formatting it copies the tree
instead of rebuilding it, and its children are modelled only when first read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lxml import etree

from virtkit.xml.canonical import cputune, devices, general
from virtkit.xml.canonical.census import acts_on, creates, plan, tags_in
from virtkit.xml.canonical.context import Context
from virtkit.xml.domain import DomainDef, domain_from_tree

Step = Callable[[etree._Element, Context], None]

GENERIC_STEPS: tuple[Step, ...] = (
    general.drop_inactive_id,
    general.generate_uuid,
    general.generate_genid,
    general.normalise_memory_units,
    general.numa_cells,
    general.default_memory,
    general.default_vcpu,
    general.default_numatune,
    general.default_iothreads,
    general.normalise_bitmaps,
    general.default_os,
    general.default_features,
    general.default_cpu,
    general.default_seclabels,
    general.default_clock,
    general.default_lifecycle,
    general.ensure_devices,
    devices.order_controllers,
    devices.interface_virtio_options,
    cputune.expand_scheduler,
    cputune.limit_resctrl,
    devices.order_disks,
    devices.disk_defaults,
    devices.assign_drive_addresses,
    devices.scsi_hostdev_addresses,
    devices.implicit_controllers,
    devices.controller_indexes,
    devices.generate_macs,
    devices.interface_coalesce,
    devices.device_defaults,
    devices.input_buses,
    devices.filesystems,
    devices.redirfilter_usbdevs,
    devices.smartcard_addresses,
    devices.chardev_sources,
    devices.graphics_listens,
    devices.implicit_video,
    devices.video_defaults,
    devices.chardev_targets,
    devices.pci_addresses,
    cputune.order_cputune,
    devices.blank_texts,
    devices.order_devices,
    general.order_domain,
)


def canonical(
    definition: DomainDef,
    *,
    steps: Sequence[Step] = GENERIC_STEPS,
    context: Context | None = None,
) -> DomainDef:
    """``definition`` with libvirt's post-parse defaults applied (a new object)."""
    root = definition.tree()
    ctx = context or Context()
    present = tags_in(root)
    for step, needs, created in plan(tuple(steps)):
        if needs is not None and needs.isdisjoint(present):
            continue
        step(root, ctx)
        if created is None:
            present = tags_in(root)
        else:
            present |= created
    return domain_from_tree(root, built=True)


__all__ = ["GENERIC_STEPS", "Context", "Step", "acts_on", "canonical", "creates"]
