"""How the QEMU driver's files reach the disk. Define writes a definition as libvirt's
``virFileRewrite`` does (content fsynced, then renamed over the old one; the folder is not
fsynced), so that a crash at any moment leaves the old or the new definition, readable, and a
failed write leaves the old one. A managed save image, once used or discarded, is deleted for
good (its folder fsynced): back after a power loss, it would resume a stale guest."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import virtkit
from virtkit.constants import DomainXMLFlags
from virtkit.errors import VirtError
from virtkit_qemu.canonical.probe import probe_caps


def record_syscalls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``fsync file``, ``fsync folder <name>``, ``rename <name>`` and ``unlink <name>``, in the
    order they happen."""
    calls: list[str] = []
    real_fsync, real_replace, real_unlink = os.fsync, os.replace, os.unlink

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            calls.append(f"fsync folder {os.path.basename(os.readlink(f'/proc/self/fd/{fd}'))}")
        else:
            calls.append("fsync file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(f"rename {os.path.basename(dst)}")
        real_replace(src, dst)

    def unlink(path: str, **kwargs: Any) -> None:
        calls.append(f"unlink {os.path.basename(path)}")
        real_unlink(path, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "unlink", unlink)
    return calls


def with_more_memory(dom: virtkit.Domain) -> str:
    """The domain's definition (its UUID with it: a redefinition) with 96 MiB, not 64."""
    return dom.xml_desc(DomainXMLFlags.INACTIVE).replace("65536</memory>", "98304</memory>")


def test_define_fsyncs_the_definition_then_renames_it_into_place(
    conn: virtkit.Connection, firmware_xml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first define creates the folders (each synced in its parent)
    first = conn.define_xml(firmware_xml("durable"))
    calls = record_syscalls(monkeypatch)
    dom = conn.define_xml(with_more_memory(first))
    assert calls == ["fsync file", "rename durable.xml"]
    assert "<memory unit='KiB'>98304</memory>" in dom.xml_desc(DomainXMLFlags.INACTIVE)


def test_a_failed_write_keeps_the_old_definition(
    conn: virtkit.Connection, qemu_root: Path, firmware_xml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dom = conn.define_xml(firmware_xml("kept"))
    before = dom.xml_desc(DomainXMLFlags.INACTIVE)

    def broken_disk(src: str, dst: str) -> None:
        raise OSError(5, "Input/output error", dst)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", broken_disk)
        with pytest.raises(VirtError, match="kept.xml: Input/output error"):
            conn.define_xml(with_more_memory(dom))
    assert dom.xml_desc(DomainXMLFlags.INACTIVE) == before
    assert os.listdir(qemu_root / "etc" / ".staging") == []
    conn.define_xml(with_more_memory(dom))  # still manageable
    assert "98304" in dom.xml_desc(DomainXMLFlags.INACTIVE)


def test_a_new_snapshot_is_on_disk_before_the_current_pointer_moves_to_it(
    conn: virtkit.Connection,
    firmware_xml: Any,
    qcow2_disk: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The snapshot's file, then its folder, are synced before the pointer is renamed into
    place; the pointer's own folder is not (a power loss may put the parent back as current,
    a state as valid as a crash just before the move)."""
    dom = conn.define_xml(firmware_xml("snapfsync", devices=qcow2_disk()))
    dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>")
    calls = record_syscalls(monkeypatch)
    dom.snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>")
    metadata = calls[calls.index("rename s2.xml") - 1 :]
    assert metadata == [
        "fsync file",
        "rename s2.xml",
        "fsync folder tree",
        "fsync file",
        "rename current",
    ]
    assert dom.snapshot_current().get_name() == "s2"
    dom.undefine_flags(snapshots_metadata=True)


# A process that redefines the domain and dies (SIGKILL) just before or just after the rename
# of its definition (other renames, such as the capability cache's, go through).
DYING_DEFINE = textwrap.dedent(
    """
    import os, signal, sys
    import virtkit
    uri, xml, when = sys.argv[1], sys.stdin.read(), sys.argv[2]
    real = os.replace
    def dying(src, dst):
        if not str(dst).endswith("/domains/crash.xml"):
            return real(src, dst)
        if when == "after":
            real(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace = dying
    virtkit.open(uri).define_xml(xml)
    """
)


REDEFINE = "import sys, virtkit; virtkit.open(sys.argv[1]).define_xml(sys.stdin.read())"


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_during_define_leaves_the_old_or_the_new_definition(
    conn: virtkit.Connection, uri: str, firmware_xml: Any, qemu_root: Path, when: str
) -> None:
    dom = conn.define_xml(firmware_xml("crash"))
    old = dom.xml_desc(DomainXMLFlags.INACTIVE)
    done = subprocess.run(
        [sys.executable, "-c", DYING_DEFINE, uri, when],
        input=with_more_memory(dom),
        text=True,
        capture_output=True,
        check=False,
    )
    assert done.returncode == -9, done.stderr
    after = virtkit.open(uri)
    try:
        found = after.lookup_by_name("crash").xml_desc(DomainXMLFlags.INACTIVE)
        expected_memory = "65536" if when == "before" else "98304"
        assert f"<memory unit='KiB'>{expected_memory}</memory>" in found
        assert found.replace("98304", "65536") == old  # whole: only the memory changed
        subprocess.run(  # the next process to change the root clears the dead one's staged file
            [sys.executable, "-c", REDEFINE, uri], input=old, text=True, check=True
        )
        assert os.listdir(qemu_root / "etc" / ".staging") == []
    finally:
        after.close()


def test_emulator_capabilities_are_asked_again_when_the_binary_changes(
    qemu_binary: str, tmp_path: Path
) -> None:
    wrapper = tmp_path / "qemu-system-x86_64"
    wrapper.write_text(f'#!/bin/sh\nexec {qemu_binary} "$@"\n')
    wrapper.chmod(0o755)
    caps = probe_caps(str(wrapper))
    assert probe_caps(str(wrapper)) is caps  # cached while the binary is unchanged
    mtime = wrapper.stat().st_mtime_ns
    os.utime(wrapper, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    again = probe_caps(str(wrapper))
    assert again is not caps and again == caps


PROBE = (
    "import sys; from pathlib import Path; from virtkit_qemu.canonical.probe import probe_caps; "
)
PROBE += "print(sorted(probe_caps(sys.argv[1], Path(sys.argv[2])).flags))"


def test_emulator_capabilities_are_kept_on_disk_for_the_next_process(
    qemu_binary: str, tmp_path: Path
) -> None:
    """A new process reads the probe's answers from the cache folder instead of running QEMU;
    a module installed beside the binary, or an unreadable cache file, makes it ask again."""
    runs = tmp_path / "runs"
    wrapper = tmp_path / "bin" / "qemu-system-x86_64"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {runs}\nexec {qemu_binary} "$@"\n')
    wrapper.chmod(0o755)
    modules = tmp_path / "lib" / "x86_64-linux-gnu" / "qemu"  # PREFIX/lib/*/qemu
    modules.mkdir(parents=True)
    cache = tmp_path / "cache"

    def probe() -> str:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(wrapper), str(cache)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def asked() -> int:
        return len(runs.read_text().split()) if runs.exists() else 0

    flags = probe()
    assert "'VGA'" in flags and asked() == 2  # -machine help, -device help
    assert [p.name for p in cache.iterdir()] == [
        f"{str(wrapper).strip('/').replace('/', '_')}.json"
    ]
    assert probe() == flags and asked() == 2  # read from the cache
    (modules / "hw-display-qxl.so").touch()  # the folder changed: devices may have come
    assert probe() == flags and asked() == 4
    assert probe() == flags and asked() == 4
    next(cache.iterdir()).write_text("{not json")
    assert probe() == flags and asked() == 6
    assert probe() == flags and asked() == 6
    kept = json.loads(next(cache.iterdir()).read_text())
    kept["answers"]["-device"] = 'name "VGA"'  # a string where QEMU's lines belong
    next(cache.iterdir()).write_text(json.dumps(kept))
    assert probe() == flags and asked() == 8


def test_a_used_managed_save_image_is_deleted_for_good(
    conn: virtkit.Connection, firmware_xml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dom = conn.define_xml(firmware_xml("resumed"))
    dom.create()
    dom.managed_save()
    calls = record_syscalls(monkeypatch)
    dom.create()  # resumes from the image, then deletes it
    assert not dom.has_managed_save_image()
    removed = calls.index("unlink resumed.save")
    assert "fsync folder save" in calls[removed:]
    dom.managed_save()
    calls.clear()
    dom.managed_save_remove()
    assert calls[-2:] == ["unlink resumed.save", "fsync folder save"]
    assert not dom.has_managed_save_image()
