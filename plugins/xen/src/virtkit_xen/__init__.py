"""virtkit driver for Xen: the ``xl`` toolstack on a dom0, locally or over SSH, and the Xen
native configuration formats (``xen-xl``, ``xen-xm``, libxl's JSON domain config)."""
