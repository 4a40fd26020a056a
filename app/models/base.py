"""Declarative base, naming convention and column types shared by every model."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names so migrations are identical on SQLite, MariaDB and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all models."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only kind of time the models hold)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC (MariaDB DATETIME has no zone) and always returns aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        """Microsecond precision on MariaDB/MySQL too."""
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value, dialect):
        """Normalise to naive UTC before writing."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        """Attach the UTC zone when reading."""
        return None if value is None else value.replace(tzinfo=dt.UTC)


class IntEnumType(sa.types.TypeDecorator):
    """Stores an ``IntEnum`` as a small integer (roles: viewer=0, contributor=1, owner=2)."""

    impl = sa.SmallInteger
    cache_ok = True

    def __init__(self, enum_class: type[enum.IntEnum]):
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value, dialect):
        """Write the integer value."""
        return None if value is None else int(self.enum_class(value))

    def process_result_value(self, value, dialect):
        """Read back the enum member."""
        return None if value is None else self.enum_class(value)


def str_enum(enum_class: type[enum.StrEnum]) -> sa.Enum:
    """A portable VARCHAR column for a string enum, storing the values (not the names)."""
    return sa.Enum(
        enum_class,
        native_enum=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
