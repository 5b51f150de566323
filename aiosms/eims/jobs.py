"""EIMS scheduled SMS tasks (``/smsjob``, spec section 6): typed descriptions, checked.

A task is an :class:`EimsJob`: its name, content and numbers (inline, up to 4 KiB, or
the URL of an ``.xls`` file) and a schedule, one of the six task types:

=====================  ========  =====================================================
schedule               jobtype   required
=====================  ========  =====================================================
:class:`Immediate`     0         nothing
:class:`At`            1         ``at`` (an aware datetime: ``planstarttm``)
:class:`Every`         2         ``minutes`` between runs, and ``minute``/``hour``/``day``
:class:`Daily`         3         ``minute``, ``hour``, ``day``
:class:`Weekly`        4         ``minute``, ``hour``, ``weekday`` (1–7)
:class:`Monthly`       5         ``minute``, ``hour``, ``day``, ``month``
=====================  ========  =====================================================

(``day`` for the interval and daily types, as the spec's table asks.) Ranges: minute
0–59, hour 0–23, day 1–31, weekday 1–7, month 1–12. :func:`build_job` checks all of it
before any request and returns the JSON body without the authentication fields.

:meth:`aiosms.EimsClient.create_job` sends them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from ..errors import InvalidRequestError
from .codec import MAX_CONTENT

__all__ = ["At", "Daily", "EimsJob", "Every", "Immediate", "Monthly", "Weekly", "build_job"]

MAX_NAME: Final = 64
MAX_INLINE_NUMBERS: Final = 4 * 1024  # bytes of the comma-separated numbers


@attrs.frozen
class Immediate:
    """Send once, now (``jobtype`` 0)."""


@attrs.frozen
class At:
    """Send once, at ``at`` (``jobtype`` 1)."""

    at: datetime


@attrs.frozen
class Every:
    """Send every ``minutes`` minutes from ``hour:minute`` on ``day`` (``jobtype`` 2)."""

    minutes: int
    minute: int
    hour: int
    day: int


@attrs.frozen
class Daily:
    """Send each day at ``hour:minute`` (``jobtype`` 3; the spec asks a ``day`` too)."""

    minute: int
    hour: int
    day: int


@attrs.frozen
class Weekly:
    """Send each week on ``weekday`` (1–7) at ``hour:minute`` (``jobtype`` 4)."""

    minute: int
    hour: int
    weekday: int


@attrs.frozen
class Monthly:
    """Send each year on ``month``/``day`` at ``hour:minute`` (``jobtype`` 5)."""

    minute: int
    hour: int
    day: int
    month: int


Schedule = Immediate | At | Every | Daily | Weekly | Monthly


@attrs.frozen
class EimsJob:
    """One ``/smsjob`` task.

    Attributes:
        name: 1–64 characters.
        content: the text, up to 1,024 characters.
        numbers: the numbers inline (4 KiB at most, comma-joined) …
        numbers_url: … or the URL of an ``.xls`` file holding them (not ``.xlsx``).
        schedule: when it runs (default: now, once).
        period: how many times a periodic task runs (types 2–5).
        end: an aware datetime after which it stops (``planendtm``).
        retry: how often a failed message is sent again.
        flash: a flash SMS.
        sender: the sender id.
        mms_title: makes it an MMS with this title.
    """

    name: str
    content: str
    numbers: Sequence[str] = ()
    numbers_url: str | None = None
    schedule: Schedule = attrs.field(factory=Immediate)
    period: int | None = None
    end: datetime | None = None
    retry: int = 0
    flash: bool = False
    sender: str | None = None
    mms_title: str | None = None


_TYPES: Final[dict[type, int]] = {Immediate: 0, At: 1, Every: 2, Daily: 3, Weekly: 4, Monthly: 5}
_RANGES: Final = {
    "minute": ("min", 0, 59),
    "hour": ("hour", 0, 23),
    "day": ("day", 1, 31),
    "weekday": ("week", 1, 7),
    "month": ("mon", 1, 12),
}


def _whole(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"{name} must be a whole number, not {value!r}")
    if value < low or (high is not None and value > high):
        shown = f"{low}–{high}" if high is not None else f"at least {low}"
        raise InvalidRequestError(f"{name} must be {shown}, not {value}")
    return value


def _timestamp(name: str, value: object) -> int:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidRequestError(f"{name} must be a timezone-aware datetime")
    return int(value.timestamp())


def build_job(job: EimsJob) -> dict[str, Any]:
    """The ``/smsjob`` body of ``job`` (without the authentication fields), checked."""
    if not isinstance(job, EimsJob):
        raise InvalidRequestError(f"job must be an EimsJob, not {type(job).__name__}")
    if not isinstance(job.name, str) or not 1 <= len(job.name.strip()) <= MAX_NAME:
        raise InvalidRequestError(f"a task name is 1–{MAX_NAME} characters")
    if not isinstance(job.content, str) or not job.content or len(job.content) > MAX_CONTENT:
        raise InvalidRequestError(f"the content must be 1–{MAX_CONTENT} characters")
    kind = _TYPES.get(type(job.schedule))
    if kind is None:
        raise InvalidRequestError(
            f"schedule must be one of {', '.join(t.__name__ for t in _TYPES)}"
        )
    body: dict[str, Any] = {"job": job.name, "jobtype": kind, "content": job.content}
    if job.numbers_url is not None:
        if job.numbers:
            raise InvalidRequestError("give numbers or numbers_url, not both")
        url = job.numbers_url
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidRequestError("numbers_url must be an http(s) URL")
        if not url.split("?", 1)[0].split("#", 1)[0].lower().endswith(".xls"):
            raise InvalidRequestError(
                "numbers_url must name an .xls file (the gateway reads no .xlsx or other)"
            )
        body.update(numbersrc=1, numbers=url)
    else:
        if isinstance(job.numbers, str) or not job.numbers:
            raise InvalidRequestError("give the numbers as a list, or a numbers_url")
        if any(not isinstance(n, str) or not n.strip() or "," in n for n in job.numbers):
            raise InvalidRequestError("each number must be a non-empty str without commas")
        inline = ",".join(n.strip() for n in job.numbers)
        if len(inline.encode()) > MAX_INLINE_NUMBERS:
            raise InvalidRequestError(
                f"inline numbers take at most {MAX_INLINE_NUMBERS} bytes; "
                "put more in an .xls file and give numbers_url"
            )
        body.update(numbersrc=0, numbers=inline)
    schedule = job.schedule
    if isinstance(schedule, At):
        body["planstarttm"] = _timestamp("at", schedule.at)
    elif isinstance(schedule, Every):
        body["interval"] = _whole("minutes", schedule.minutes, 1)
    for field, (wire, low, high) in _RANGES.items():
        if hasattr(schedule, field):
            body[wire] = _whole(field, getattr(schedule, field), low, high)
    if job.period is not None:
        if kind < 2:
            raise InvalidRequestError("period is for periodic tasks (Every, Daily, Weekly…)")
        body["period"] = _whole("period", job.period, 1)
    if job.end is not None:
        body["planendtm"] = _timestamp("end", job.end)
    body["retry"] = _whole("retry", job.retry, 0)
    body["flash"] = 1 if job.flash else 0
    if job.sender is not None:
        body["SenderId"] = job.sender
    if job.mms_title is not None:
        if not isinstance(job.mms_title, str) or not job.mms_title.strip():
            raise InvalidRequestError("an MMS task needs a non-empty title")
        body.update(SMStype=1, MMStitle=job.mms_title)
    return body
