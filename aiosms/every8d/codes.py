"""EVERY8D status and result codes.

Status codes are the union of the Web Services (SOAP) 2.1 specifications (English
2.0.2 and the newer Chinese 2.0.3) and the HTTP API 2.1, which lists 301, 700, 888
and 999 besides. Descriptions follow the newer Chinese text, except for code 107:
the English SOAP spec ("received after deadline") and the HTTP API (逾時收訊) agree that
the validity period ran out, while the Chinese SOAP spec repeats 101's words (handset
off, no signal) for it, which reads as a copy slip. 107 is therefore EXPIRED.

700 ("MMS sent") is DELIVERED: the HTTP API's MMS status table has only 700, 300 and
303, so 700 is the final word on an MMS, and a watch that took it for "accepted, not
yet delivered" would never end.
"""

from __future__ import annotations

from typing import NoReturn

from ..errors import (
    AccountBlockedError,
    AuthenticationError,
    ProviderBusyError,
    ProviderError,
    SessionExpiredError,
)
from ..models import DeliveryState

__all__ = ["PROVIDER", "REPLY_STATUS", "STATUS_CODES", "describe_status", "raise_for_code"]

PROVIDER = "every8d"

_S = DeliveryState

STATUS_CODES: dict[str, tuple[DeliveryState, str]] = {
    "0": (_S.ACCEPTED, "sent to the carrier, reaching the handset"),
    "100": (_S.DELIVERED, "delivered to the handset"),
    "101": (_S.FAILED, "not delivered: handset off, no signal or SMS disabled"),
    "102": (_S.FAILED, "not delivered: carrier network or base station failure"),
    "103": (_S.FAILED, "not delivered: the number does not exist or is suspended"),
    "104": (_S.FAILED, "not delivered: handset not compatible"),
    "105": (_S.FAILED, "not delivered: handset fault"),
    "106": (_S.FAILED, "not delivered: unexpected carrier system error"),
    "107": (_S.EXPIRED, "not delivered: the validity period ran out (handset off or out of reach)"),
    "300": (_S.SCHEDULED, "scheduled"),
    "301": (_S.FAILED, "not sent: no credit left"),
    "303": (_S.CANCELLED, "scheduled message cancelled"),
    "500": (_S.FAILED, "not sent: international SMS is not enabled for the account"),
    # The last status EVERY8D reports for an MMS (its table: 700, 300, 303): there is
    # no handset receipt after it, so a watch of an MMS batch must end on it.
    "700": (_S.DELIVERED, "MMS sent (EVERY8D reports no later status for an MMS)"),
    "888": (_S.DELIVERED, "test mode: accepted, not sent to a handset"),
    "-1": (_S.FAILED, "not sent: parameter error"),
    "-2": (_S.FAILED, "not sent: wrong API account or password"),
    "-3": (_S.FAILED, "not sent: invalid or blacklisted number"),
    "-4": (_S.FAILED, "not sent: the send time is more than 24 hours past"),
    "-5": (_S.FAILED, "not sent: message too long"),
    "-6": (_S.FAILED, "not sent: malformed send time"),
}
"""Raw STATUS code -> (DeliveryState, description)."""

REPLY_STATUS = "999"
"""STATUS of a push callback that carries a reply SMS rather than a status."""


def describe_status(code: str) -> tuple[DeliveryState, str]:
    """Map a raw STATUS code to its state and description (UNKNOWN for new codes)."""
    found = STATUS_CODES.get(code)
    if found is None:
        return DeliveryState.UNKNOWN, f"unknown status code {code}"
    return found


_RESULT_MESSAGES: dict[str, str] = {
    "-1": "parameter error",
    "-2": "wrong API account or password",
    "-3": "invalid or blacklisted mobile number",
    "-4": "the send time is more than 24 hours in the past",
    "-5": "the message is too long",
    "-6": "malformed send time",
    "-97": "the system is busy, try again later",
    "-99": "unknown error on the provider's side",
    "-100": "login failed: no such account",
    "-101": "login failed: wrong password",
    "-301": "the session key does not exist; log in again",
    "-306": "a mobile number is not in a format EVERY8D accepts",
    "-999": "the account is blocked (more than 10 failed logins); contact EVERY8D",
}


def raise_for_code(code: str, message: str = "") -> NoReturn:
    """Raise the error that an EVERY8D result code (``-301``, ``-101``, …) means.

    The error's message explains the code in English; ``message``, the provider's own
    text (usually Chinese), is kept as ``provider_message``.
    """
    text = _RESULT_MESSAGES.get(code, "EVERY8D refused the request")
    kw = {"provider": PROVIDER, "code": code, "provider_message": message.strip() or None}
    if code == "-301":
        raise SessionExpiredError(text, **kw)
    if code in ("-100", "-101"):
        raise AuthenticationError(text, **kw)
    if code == "-999":
        raise AccountBlockedError(text, **kw)
    if code == "-97":
        raise ProviderBusyError(text, **kw)
    raise ProviderError(text, **kw)
