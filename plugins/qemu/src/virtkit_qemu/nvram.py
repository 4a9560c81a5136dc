"""A UEFI guest's variable store (NVRAM): made from its template before QEMU first uses it,
as libvirt makes it, and removed with the domain only when asked."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from lxml import etree
from virtkit.errors import OperationFailedError
from virtkit.state import xdg_folder
from virtkit.xml.canonical.order import first_child


def descriptor_folders() -> list[Path]:
    """Where QEMU's firmware descriptors are, the first taking precedence (QEMU's
    ``docs/interop/firmware.json`` order, as libvirt reads them)."""
    return [
        Path("/etc/qemu/firmware"),
        xdg_folder("XDG_CONFIG_HOME", ".config") / "qemu" / "firmware",
        Path("/usr/share/qemu/firmware"),
    ]


def template_of(loader: str) -> str | None:
    """The variable store template the firmware descriptor of ``loader`` (its executable)
    names; descriptors are read in name order, a name in an earlier folder hiding the same
    name in a later one."""
    found: dict[str, Path] = {}
    for folder in descriptor_folders():
        with contextlib.suppress(OSError):
            for path in folder.glob("*.json"):
                found.setdefault(path.name, path)
    for name in sorted(found):
        try:
            mapping = json.loads(found[name].read_text()).get("mapping", {})
        except (OSError, ValueError, AttributeError):
            continue  # (a descriptor QEMU's schema does not describe is not ours to judge)
        executable = mapping.get("executable", {}).get("filename")
        template = mapping.get("nvram-template", {}).get("filename")
        if executable == loader and template:
            return str(template)
    return None


def nvram_file(root: etree._Element) -> str | None:
    """The variable store file the ``<domain>`` ``root`` names (``<os><nvram>``), if any."""
    os_el = first_child(root, "os")
    nvram = first_child(os_el, "nvram") if os_el is not None else None
    path = (nvram.text or "").strip() if nvram is not None else ""
    return path or None


def prepare_nvram(root: etree._Element) -> None:
    """Make the variable store that the ``<domain>`` ``root`` names when it does not exist:
    a copy of ``<nvram template>``, else of the template the loader's firmware descriptor
    names. The copy is written aside and renamed into place, so no half-written store is
    ever left.

    :raises OperationFailedError: no template is known, or it cannot be copied (both named)."""
    path = nvram_file(root)
    if path is None or os.path.exists(path):
        return
    os_el = first_child(root, "os")
    assert os_el is not None  # (it holds the <nvram>)
    nvram, loader = first_child(os_el, "nvram"), first_child(os_el, "loader")
    loader_path = (loader.text or "").strip() if loader is not None else ""
    template = (nvram.get("template") if nvram is not None else None) or template_of(loader_path)
    if template is None:
        raise OperationFailedError(
            f"the NVRAM file {path} does not exist, and no template to make it from is known: "
            f"neither <nvram template=...> nor a firmware descriptor for the loader "
            f"'{loader_path}' names one"
        )
    staged = f"{path}.{os.getpid()}.new"
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        with open(template, "rb") as source, open(staged, "xb") as target:
            os.fchmod(target.fileno(), 0o600)
            shutil.copyfileobj(source, target)
            target.flush()
            os.fsync(target.fileno())
        os.replace(staged, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(staged)
        raise OperationFailedError(
            f"cannot make the NVRAM file {path} from the template {template}: {exc.strerror}"
        ) from exc
