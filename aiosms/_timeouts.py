"""Timeouts as clients take them (``timeout=`` seconds or an ``aiohttp.ClientTimeout``)."""

from __future__ import annotations

import math
from typing import Final

import aiohttp

from .errors import InvalidRequestError

__all__ = ["DEFAULT_TIMEOUT", "to_timeout"]

DEFAULT_TIMEOUT: Final = aiohttp.ClientTimeout(total=30, connect=10)

_TIMEOUT_FIELDS: Final = ("total", "connect", "sock_read", "sock_connect")


def to_timeout(timeout: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout:
    """``timeout=`` as an ``aiohttp.ClientTimeout``; a limit that is not a positive number
    of seconds is refused (aiohttp would read 0 as "no limit" and a negative one as
    "already expired")."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, aiohttp.ClientTimeout):
        for field in _TIMEOUT_FIELDS:
            value = getattr(timeout, field)
            if value is not None and not _is_positive_seconds(value):
                raise InvalidRequestError(
                    f"timeout.{field} must be a positive number of seconds or None "
                    f"(no limit), not {value!r}"
                )
        return timeout
    if not _is_positive_seconds(timeout):
        raise InvalidRequestError(
            "timeout must be a positive, finite number of seconds or an "
            f"aiohttp.ClientTimeout, not {timeout!r}"
        )
    return aiohttp.ClientTimeout(total=float(timeout), connect=min(float(timeout), 10.0))


def _is_positive_seconds(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
