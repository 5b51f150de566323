"""Israeli numbers and SMS lengths for SMSCenter, pure.

SMSCenter takes ``+972541234567``, ``054-1234567`` or ``0541234567``;
:func:`normalize_number` turns any of them into one normal form, ``+972541234567``
(its reason code 218, "TargetMobileCanNotStartWithNumberZero", is why not the domestic
form), and refuses anything else before a request is made.

An SMS holds 160 GSM-7 characters, or 70 UCS-2 ones as soon as one character is outside
GSM-7 (Hebrew, emoji); a longer text must be sent as a chain (:func:`needs_chaining`).
"""

from __future__ import annotations

import re
from typing import Final

from ..errors import InvalidRequestError

__all__ = [
    "GSM7_LIMIT",
    "UCS2_LIMIT",
    "is_gsm7",
    "needs_chaining",
    "normalize_number",
    "normalize_numbers",
    "sms_length",
]

GSM7_LIMIT: Final = 160
UCS2_LIMIT: Final = 70

# The GSM 03.38 default alphabet, and its extension table (each of those takes two).
_GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED: Final = frozenset("\f^{}\\[~]|€")

# +972 or 0, then 8 (landline: 2, 3, 4, 8, 9; 7x) or 9 digits (mobile 5x, 7x VoIP)
_ISRAELI: Final = re.compile(r"(?:\+972|972|0)([2-9]\d{7,8})")


def normalize_number(number: str) -> str:
    """``number`` (``+972541234567``, ``054-1234567``, ``0541234567``, spaces or dashes
    between digits allowed) as ``+972541234567``.

    Raises:
        InvalidRequestError: it is not an Israeli number.
    """
    if not isinstance(number, str):
        raise InvalidRequestError(f"a phone number must be a str, not {number!r:.40}")
    compact = number.strip().replace("-", "").replace(" ", "")
    found = _ISRAELI.fullmatch(compact) if len(compact) <= 16 else None
    if found is None:
        raise InvalidRequestError(
            f"not an Israeli phone number: {number!r:.40} (SMSCenter takes +972541234567, "
            "054-1234567 or 0541234567)"
        )
    national = found.group(1)
    if national.startswith("5") and len(national) != 9:
        raise InvalidRequestError(f"an Israeli mobile number has 10 digits: {number!r:.40}")
    return "+972" + national


def normalize_numbers(numbers: str | object) -> list[str]:
    """One number or an iterable of them, normalized, each once, in order."""
    if isinstance(numbers, str):
        return [normalize_number(numbers)]
    try:
        items = list(numbers)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidRequestError(
            f"give a phone number or a list of them, not {type(numbers).__name__}"
        ) from None
    unique = list(dict.fromkeys(normalize_number(n) for n in items))
    if not unique:
        raise InvalidRequestError("give at least one phone number")
    return unique


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 alphabet (or its extension)."""
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in text)


def sms_length(text: str) -> tuple[int, int]:
    """``(length, limit)`` of ``text`` as one SMS: GSM-7 septets out of 160 (the
    extension characters ``^{}\\[~]|€`` take two), or UTF-16 units out of 70."""
    if is_gsm7(text):
        return len(text) + sum(c in _GSM7_EXTENDED for c in text), GSM7_LIMIT
    return len(text.encode("utf-16-le")) // 2, UCS2_LIMIT


def needs_chaining(text: str) -> bool:
    """True when ``text`` does not fit one SMS (more than 160 GSM-7 characters, or
    more than 70 as soon as one is outside GSM-7): it must be sent concatenated."""
    length, limit = sms_length(text)
    return length > limit
