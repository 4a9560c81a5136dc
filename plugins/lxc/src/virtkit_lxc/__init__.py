"""virtkit's LXC driver: Linux containers from libvirt's ``<domain type='lxc'>``.

The driver is entry point ``lxc`` of group ``virtkit.drivers`` (:mod:`virtkit_lxc.driver`).
Besides the common API it implements ``Domain.lxc_enter_namespace`` (libvirt's
``lxc-enter-namespace``: run a program inside a container); ``Domain.open_console`` gives the
host pty relayed to the container's ``/dev/console``.
"""
