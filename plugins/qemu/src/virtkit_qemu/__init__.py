"""virtkit driver for QEMU/KVM (scheme ``qemu``): see DESIGN.md for the module map."""
