"""A small per-process memo with expiry, for lookups every request makes and that almost
never change (which registry a token or a notification is for)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any


class ExpiringMemo:
    """Values remembered for ``seconds`` after they were loaded. Not shared between
    processes; a stale value lives at most ``seconds``. Failures are not remembered."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._values: dict[Hashable, tuple[Any, float]] = {}

    def get(self, key: Hashable, load: Callable[[], Any]) -> Any:
        """The remembered value for ``key``, or ``load()`` (remembered if it returns)."""
        now = time.monotonic()
        remembered = self._values.get(key)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        value = load()
        self._values[key] = (value, now + self.seconds)
        return value
