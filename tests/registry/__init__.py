"""Tests: registry."""
