"""Thin views, one package per area; they call services and render templates or JSON."""
