"""Waiting for a condition, with a message that says what did not happen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 60,
    step: float = 0.5,
    *,
    errors: tuple[type[BaseException], ...] = (Exception,),
) -> T:
    """Call probe until it returns something truthy, and return that.

    An exception of ``errors`` from probe counts as "not yet" (the last one
    is named if time runs out); any other goes up at once. After ``timeout``
    seconds a TimeoutError names ``what``.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except errors as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(step)
    raise TimeoutError(
        f"timed out after {timeout:g} s waiting for {what} (last error: {last_error})"
    )
