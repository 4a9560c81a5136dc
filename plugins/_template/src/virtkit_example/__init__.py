"""virtkit driver plugin for the example hypervisor (URI ``example:///``)."""

from virtkit_example.driver import ExampleDriver

__all__ = ["ExampleDriver"]
