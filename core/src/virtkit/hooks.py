"""Calling the extension hooks at libvirt's hook-script points (see :func:`virtkit_domain_hook`)."""

from __future__ import annotations

import logging

import attrs
import pluggy

from virtkit.constants import HookEvent
from virtkit.errors import HookVetoError, VirtError

log = logging.getLogger(__name__)

VETO_EVENTS = frozenset({HookEvent.PREPARE, HookEvent.START, HookEvent.MIGRATE, HookEvent.RESTORE})
"""Events at which an extension's exception makes the operation fail."""


@attrs.define
class HookDocument:
    """The domain XML handed to extensions; ``xml`` may be replaced at MIGRATE and RESTORE."""

    xml: str


def run_domain_hook(hook: pluggy.HookRelay, event: HookEvent, name: str, xml: str) -> str:
    """Call every extension's :func:`virtkit_domain_hook`; return the (possibly rewritten) XML.

    An exception at a veto event becomes :class:`HookVetoError` naming the event and domain;
    at other events it is logged and the XML is returned unchanged.
    """
    document = HookDocument(xml)
    try:
        hook.virtkit_domain_hook(event=event, name=name, document=document)
    except Exception as exc:
        if event not in VETO_EVENTS:
            log.warning("extension hook %s for domain %s failed: %s", event, name, exc)
            return xml
        if isinstance(exc, HookVetoError):
            raise
        detail = exc.message if isinstance(exc, VirtError) else str(exc)
        raise HookVetoError(f"hook '{event}' refused domain '{name}': {detail}") from exc
    if event not in (HookEvent.MIGRATE, HookEvent.RESTORE):
        return xml
    return document.xml
