"""SMSCenter's codes: delivery notification status and reason codes, IVR call statuses.

A delivery notification (spec "Customer Notification Delivery") carries a status code
(200 Failed, 300 Accepted, 400 Rejected, 500 Buffered, 600 Delivered, 700 Undeliver)
and a reason code that details it (204–218 beside 200, 301, 401/402, 501, 601,
701–707 beside 700, 999). :func:`describe` maps the pair to a
:class:`~aiosms.DeliveryState` and an English description.

The state follows the status code, with one refinement: an expired message is
``EXPIRED`` rather than ``FAILED`` (reason 701 "Message EXPIRED" beside 700, and reason
210 "MessageExpired" beside 200, where SMSCenter itself let the validity run out before
handing the message over). Both are final, so a watch ends on either.

500 Buffered is ``ACCEPTED``: the carrier holds the message and keeps trying, so it is
not final; 600 or 700 follows.

The IVR (voice call) statuses of ``GetMessagesResponseByMessageID`` are names, not
numbers; :func:`describe_ivr` maps them.
"""

from __future__ import annotations

from typing import Final

from ..models import DeliveryState

__all__ = [
    "EXPIRED_REASONS",
    "IVR_STATUSES",
    "PROVIDER",
    "REASON_CODES",
    "STATUS_CODES",
    "describe",
    "describe_ivr",
]

PROVIDER: Final = "smscenter"

_S = DeliveryState

STATUS_CODES: Final[dict[str, tuple[DeliveryState, str, str]]] = {
    "200": (_S.FAILED, "Failed", "failed to send from SMSCenter to the cellular provider"),
    "300": (_S.ACCEPTED, "Accepted", "accepted by the cellular provider"),
    "400": (_S.FAILED, "Rejected", "rejected by the cellular provider"),
    "500": (_S.ACCEPTED, "Buffered", "buffered on the cellular provider's servers"),
    "600": (_S.DELIVERED, "Delivered", "delivered to the mobile device"),
    "700": (_S.FAILED, "Undeliver", "finally not delivered to the mobile device"),
}
"""Status code -> (state, the spec's name, what it means)."""

REASON_CODES: Final[dict[str, str]] = {
    "204": "ProviderNotFound",
    "205": "CompanyDisabled",
    "206": "MobileEmpty",
    "207": "NotEnoughSMSMessagesAvailable",
    "208": "NoPermissionToSendToProvider",
    "210": "MessageExpired",
    "212": "UserIsDisabledOrDeleted",
    "214": "NumberBlackListedForCompany",
    "215": "RestrictHours",
    "216": "RestrictDate",
    "217": "ExceededtheNumberOfTries",
    "218": "TargetMobileCanNotStartWithNumberZero",
    "301": "Accepted",
    "401": "Message rejected by provider",
    "402": "Black List",
    "501": "Buffered",
    "601": "Message delivered",
    "701": "Message EXPIRED/ SMSC Error: Message validity period has expired",
    "702": "Invalid Dest Addr",
    "703": "Unknown subscriber",
    "704": "Message is in a rejected state",
    "705": "Provision block",
    "706": "SMSC: Invalid Source Address",
    "707": "Routing Error",
    "999": "Send the provider message",
}
"""Reason code -> the spec's description, as SMSCenter writes it."""

EXPIRED_REASONS: Final = frozenset({"210", "701"})
"""Reason codes that make a failure ``EXPIRED``: the validity period ran out."""


def _number(code: str) -> str:
    """A code as the tables spell it (``"0600"`` → ``"600"``); as given if not digits."""
    code = code.strip()
    if code.isascii() and code.isdigit() and len(code) <= 9:
        return str(int(code))
    return code


def describe(status_code: str, reason_code: str | None = None) -> tuple[DeliveryState, str]:
    """A notification's state and description, from its status and reason codes.

    Unknown codes give ``UNKNOWN`` (an unknown reason beside a known status keeps the
    status's state); the raw codes are named in the description.
    """
    status = _number(status_code)
    reason = _number(reason_code) if reason_code else ""
    found = STATUS_CODES.get(status)
    if found is None:
        state, text = DeliveryState.UNKNOWN, f"unknown status code {status_code.strip()[:20]}"
    else:
        state, name, meaning = found
        text = f"{name}: {meaning}"
        if state is DeliveryState.FAILED and reason in EXPIRED_REASONS:
            state = DeliveryState.EXPIRED
    if reason:
        said = REASON_CODES.get(reason)
        text += f" (reason {reason}: {said})" if said else f" (unknown reason code {reason[:20]})"
    return state, text


IVR_STATUSES: Final[dict[str, tuple[DeliveryState, str]]] = {
    "NewCall": (_S.ACCEPTED, "Outgoing Call"),
    "Sent": (_S.ACCEPTED, "Message Sent"),
    "CompanyDisabled": (_S.FAILED, "Company or Customer Disabled"),
    "MobileEmpty": (_S.FAILED, "Mobile number Empty or Not Valid"),
    "NotEnoughIVRSecondsAvailable": (
        _S.FAILED,
        "Not Enough IVR Seconds Available for the customer",
    ),
    "NoPermissionToSendToProvider": (_S.FAILED, "No Permission to company to Send To Provider"),
    "MessageDeleted": (_S.CANCELLED, "Message Deleted"),
    "MessageExpired": (_S.EXPIRED, "Message Expired"),
    "Queued": (_S.ACCEPTED, "Queued – In Process"),
    "UserIsDisabledOrDeleted": (_S.FAILED, "User Disabled Or Deleted"),
    "DelayedMessage": (_S.SCHEDULED, "Delayed or Planned Message"),
    "NumberBlackListedForCompany": (_S.FAILED, "Number exist Black Listed For Company"),
    "IVRCallSuccess": (_S.DELIVERED, "IVR Call Success"),
    "IVRCallNotSuccess": (_S.FAILED, "IVR Call Not Success"),
    "ExceededtheNumberOfTries": (_S.FAILED, "Exceeded the Number of call tries"),
    "Calling": (_S.ACCEPTED, "Calling status"),
    "FailedCall": (_S.FAILED, "Failed Call"),
    "Connected": (_S.ACCEPTED, "Connected"),
    # A call-progress state like Connected and InConference, not an outcome: the table
    # has outcomes of its own (IVRCallSuccess, IVRCallNotSuccess, FailedCall,
    # ExceededtheNumberOfTries) that SMSCenter reports once it has judged the call, and
    # a hang-up may still be retried. Taking it for final would end a watch before
    # that outcome, and guessing success or failure from a hang-up would be wrong for
    # one or the other; so it is ACCEPTED, not final.
    "Disconnected": (_S.ACCEPTED, "Disconnected"),
    "Expired": (_S.EXPIRED, "IVR Expired"),
    "InConference": (_S.ACCEPTED, "In Conference"),
    "Undefined": (_S.FAILED, "Undefined error"),
    "RestrictHours": (_S.FAILED, "Restrict Hours"),
    "RestrictDate": (_S.FAILED, "Restrict Date"),
    "ProviderNotFound": (_S.FAILED, "Provider Not Found"),
    "FailedWithResponse": (_S.FAILED, "Failed With Response"),
    "FailedWithoutResponse": (_S.FAILED, "Failed Without Response"),
}
"""IVRMessage status -> (state, the spec's meaning)."""

_IVR_FOLDED: Final = {name.casefold(): found for name, found in IVR_STATUSES.items()}


def describe_ivr(status: str) -> tuple[DeliveryState, str]:
    """An IVR call status (``IVRCallSuccess``, …, any letter case) → its state and
    description; ``UNKNOWN`` for a status the spec does not list."""
    found = _IVR_FOLDED.get(status.strip().casefold())
    if found is None:
        return DeliveryState.UNKNOWN, f"unknown IVR status {status.strip()[:40]!r}"
    return found
