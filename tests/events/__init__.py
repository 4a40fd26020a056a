"""Tests: registry notifications, activities, reconciliation."""
