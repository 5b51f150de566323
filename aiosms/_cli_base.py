"""What the ``aiosms`` commands share: exit codes, the one-line error, output helpers.

Imported by :mod:`aiosms.cli` at start-up, so it imports nothing heavy (no aiohttp, no
rich, no provider client): only what ``import aiosms`` has loaded already.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from typing import IO, Final

from .errors import InvalidRequestError, SendOutcomeUnknownError, SmsError, TransportError
from .models import DeliveryState

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_TRANSPORT",
    "EXIT_UNKNOWN_OUTCOME",
    "EXIT_USAGE",
    "CliError",
    "exit_code_of",
    "format_counts",
    "one_line",
    "paint",
    "rich_available",
    "wants_colour",
]

EXIT_OK: Final = 0
"""Done."""
EXIT_ERROR: Final = 1
"""The provider refused or did not find something (any other aiosms error)."""
EXIT_USAGE: Final = 2
"""Bad usage or bad input (argparse's own code; :class:`~aiosms.InvalidRequestError`)."""
EXIT_UNKNOWN_OUTCOME: Final = 3
"""A send's outcome is unknown (:class:`~aiosms.SendOutcomeUnknownError`)."""
EXIT_TRANSPORT: Final = 4
"""The request failed on the way (:class:`~aiosms.TransportError`)."""
EXIT_TIMEOUT: Final = 5
"""``watch --timeout`` ran out before every recipient was final."""
EXIT_INTERRUPTED: Final = 130
"""Ctrl-C."""
EXIT_BROKEN_PIPE: Final = 141
"""stdout was closed before the output ended (``| head``), as for a process SIGPIPE ends."""

EXIT_CODES_HELP: Final = """\
exit codes:
  0    ok
  1    the provider refused or found nothing (wrong password, unknown batch...)
  2    bad usage or bad input (a bad option, a bad number, no URL given...)
  3    the send's outcome is unknown: it may have been sent; check before resending
  4    transport failure (connection refused, timeout, HTTP error)
  5    watch --timeout ran out before every recipient was final
  130  interrupted (Ctrl-C)
  141  stdout closed before the output ended (| head)"""


class CliError(Exception):
    """An error the command line reports as ``error: <message>`` and exits ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def exit_code_of(exc: BaseException) -> int:
    """The documented exit code of an error a command raised."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, InvalidRequestError):
        return EXIT_USAGE
    if isinstance(exc, SendOutcomeUnknownError):
        return EXIT_UNKNOWN_OUTCOME
    if isinstance(exc, TransportError):
        return EXIT_TRANSPORT
    return EXIT_ERROR


def one_line(exc: BaseException) -> str:
    """The error as one line of text (no traceback, no line breaks)."""
    if isinstance(exc, CliError):
        text = exc.message
    elif isinstance(exc, SmsError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return " ".join(text.split())


def first_error(exc: BaseException) -> BaseException:
    """``exc``, or for an exception group the first error inside it."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def rich_available() -> bool:
    """True when the optional ``rich`` package (``aiosms[cli]``) can be imported."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def wants_colour(stream: IO[str] | None = None) -> bool:
    """Colour for a terminal, unless ``NO_COLOR`` is set."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


_COLOURS: Final = {
    DeliveryState.SCHEDULED: "36",
    DeliveryState.ACCEPTED: "33",
    DeliveryState.DELIVERED: "32",
    DeliveryState.FAILED: "31",
    DeliveryState.EXPIRED: "35",
    DeliveryState.CANCELLED: "90",
    DeliveryState.UNKNOWN: "37",
}

RICH_STYLES: Final = {
    DeliveryState.SCHEDULED: "cyan",
    DeliveryState.ACCEPTED: "yellow",
    DeliveryState.DELIVERED: "green",
    DeliveryState.FAILED: "red",
    DeliveryState.EXPIRED: "magenta",
    DeliveryState.CANCELLED: "bright_black",
    DeliveryState.UNKNOWN: "white",
}


def paint(text: str, state: DeliveryState, colour: bool) -> str:
    """``text`` in the ANSI colour of ``state`` when ``colour``."""
    return f"\033[{_COLOURS[state]}m{text}\033[0m" if colour else text


def count_states(states: Iterable[DeliveryState]) -> dict[str, int]:
    """How many of each state, in :class:`DeliveryState` order, those present only."""
    counts = Counter(states)
    return {state.value: counts[state] for state in DeliveryState if counts[state]}


def format_counts(counts: dict[str, int]) -> str:
    """``5 delivered, 2 failed`` (``nothing`` when empty)."""
    return ", ".join(f"{n} {state}" for state, n in counts.items()) or "nothing"


def shorten(ids: list[str], most: int = 3) -> str:
    """A few ids for a message: ``a, b, c (+4 more)``."""
    shown = ", ".join(ids[:most])
    return shown + (f" (+{len(ids) - most} more)" if len(ids) > most else "")
