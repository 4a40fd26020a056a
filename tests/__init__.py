"""Wharfinger test suite."""
