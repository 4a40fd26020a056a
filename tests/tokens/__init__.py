"""Tests: tokens."""
