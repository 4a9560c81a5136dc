"""What the canonical steps need to know about the host and the parse."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Context:
    """Inputs of the canonical pipeline.

    ``arch``: the default guest architecture (libvirt takes the host's from the capabilities).
    ``inactive``: the definition is parsed as the persistent (inactive) config, so live-only
    values such as allocated VNC ports are not kept.
    ``video_type``: see below.
    """

    arch: str = "x86_64"
    inactive: bool = False
    #: model of the video device added for a graphical console that has none (libvirt's test
    #: driver: ``cirrus``); None adds nothing, as libvirt's generic parser leaves the choice
    #: to the driver
    video_type: str | None = None
