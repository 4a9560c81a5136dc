"""The QEMU driver's firmware defaults: where a UEFI guest's variable store (NVRAM) lives."""

from __future__ import annotations

from lxml import etree
from virtkit.xml import Context
from virtkit.xml.canonical.census import acts_on, creates
from virtkit.xml.canonical.order import OS_ORDER, first_child, insert_child

from virtkit_qemu.canonical.context import QemuContext


@acts_on("loader")
@creates("nvram")
def nvram_path(root: etree._Element, ctx: Context) -> None:
    """A read-only pflash loader (UEFI code) whose ``<nvram>`` names no file gets
    ``NVRAM_DIR/NAME_VARS.fd``, as libvirt gives it (the driver makes the file at start)."""
    nvram_dir = ctx.nvram_dir if isinstance(ctx, QemuContext) else None
    os_el = first_child(root, "os")
    loader = first_child(os_el, "loader") if os_el is not None else None
    if nvram_dir is None or os_el is None or loader is None:
        return
    if loader.get("type") != "pflash" or loader.get("readonly") != "yes":
        return
    if loader.get("stateless") == "yes":
        return
    nvram = first_child(os_el, "nvram")
    if nvram is None:
        nvram = insert_child(os_el, "nvram", OS_ORDER)
    elif (nvram.text or "").strip() or nvram.get("type") or len(nvram):
        return
    name = (root.findtext("name") or "").strip()
    nvram.text = f"{nvram_dir}/{name}_VARS.fd"
