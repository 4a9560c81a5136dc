"""Domain XML to a QEMU command line (:func:`build_command`)."""

from virtkit_qemu.argv.builder import QemuCommand, build_command

__all__ = ["QemuCommand", "build_command"]
