"""Whether KVM can be used here, probed once per process."""

from __future__ import annotations

import fcntl
import functools
import os

KVM_CREATE_VM = 0xAE01
KVM_DEVICE = "/dev/kvm"


@functools.cache
def kvm_problem() -> str | None:
    """``None`` when ``/dev/kvm`` opens and creates a VM, else why not (for the error)."""
    try:
        fd = os.open(KVM_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot open {KVM_DEVICE}: {exc.strerror}"
    try:
        vm_fd = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
    except OSError as exc:
        return f"{KVM_DEVICE} refuses to create a VM: {exc.strerror}"
    finally:
        os.close(fd)
    os.close(vm_fd)
    return None
