"""Drivers built into core (shipped through the same entry points third parties use)."""
