"""Test support for virtkit and for driver authors: a pytest plugin (entry point ``pytest11``),
the shared driver-contract suite and the conformance helpers."""
