"""Plugins: the hook specifications, the plugin manager, and the built-in plugins.

Built-in behaviour (the Portus policy, local accounts, the database audit sink) is itself
implemented as plugins on the same hooks third parties use.
"""
