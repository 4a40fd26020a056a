"""Typed errors with a message for the user; views and the CLI turn them into responses."""


class ServiceError(ValueError):
    """Base class: ``str(error)`` is safe to show; ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class Invalid(ServiceError):
    """Input that breaks a rule (name format, length, ...)."""


class Conflict(ServiceError):
    """The thing exists already (duplicate name, ...)."""


class NotFound(ServiceError):
    """The named object does not exist."""


class Forbidden(ServiceError):
    """The actor may not do this."""
