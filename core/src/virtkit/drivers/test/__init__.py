"""The built-in test driver (entry point ``test`` of group ``virtkit.drivers``)."""

from virtkit.drivers.test.driver import TestDriver

__all__ = ["TestDriver"]
