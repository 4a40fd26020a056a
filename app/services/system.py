"""Wharfinger's own identity toward registries (reconciliation, manifest reads).

The registry reports a token's ``sub`` as the actor of the events it causes; this name is
outside the username grammar, so no user can ever be confused with it, and events it
causes are recognised and ignored.
"""

SYSTEM_SUBJECT = "~wharfinger"
SYSTEM_USER_AGENT = "Wharfinger (reconciliation)"
SYSTEM_TOKEN_TTL = 300
