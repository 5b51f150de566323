"""Request bodies as the transport sends and logs them: large ones streamed, and
bodies kept out of DEBUG log lines unless :func:`log_bodies` asks for them."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import urlencode

if TYPE_CHECKING:
    from aiohttp.payload import BytesIOPayload

__all__ = ["LOG_BODIES", "is_small", "log_bodies", "streamed"]

# aiohttp warns about (and writes in one go) a bytes body over 1 MiB; above this size a
# body is streamed in 64 KiB chunks instead.
_STREAM_ABOVE: Final = 1 << 20
# A form's urlencoded size is at most this many bytes a character (4 UTF-8 bytes, %XX).
_FORM_BYTES_PER_CHAR: Final = 12
_FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"

# Whether DEBUG logging shows request and reply bodies (masked): set by log_bodies().
LOG_BODIES = [os.environ.get("AIOSMSLOG_BODIES", "") == "1"]


def log_bodies(enabled: bool = True) -> None:
    """Show request and reply bodies in aiosms's DEBUG log lines (passwords, keys and
    session keys still masked). Off by default, as bodies hold message texts and phone
    numbers; the environment variable ``AIOSMSLOG_BODIES=1`` turns it on as well."""
    LOG_BODIES[0] = bool(enabled)


def is_small(body: bytes | Mapping[str, str]) -> bool:
    if isinstance(body, bytes):
        return len(body) <= _STREAM_ABOVE
    # A cheap upper bound first: encoding every form just to measure it would cost more.
    chars = sum(len(key) + len(value) + 2 for key, value in body.items())
    return chars * _FORM_BYTES_PER_CHAR <= _STREAM_ABOVE


def streamed(body: bytes | Mapping[str, str]) -> BytesIOPayload:
    """A payload aiohttp writes in chunks, yielding to the loop between them."""
    from aiohttp.payload import BytesIOPayload  # imported with the transport's first big body

    if isinstance(body, bytes):
        return BytesIOPayload(io.BytesIO(body))
    form = urlencode(list(body.items())).encode()  # as aiohttp's FormData encodes one
    return BytesIOPayload(io.BytesIO(form), content_type=_FORM_CONTENT_TYPE)
