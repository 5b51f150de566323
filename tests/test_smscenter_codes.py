"""aiosms.smscenter.codes: both notification code tables and the IVR status table,
mapped to DeliveryState, every code of the spec."""

from __future__ import annotations

import pytest

from aiosms import DeliveryState
from aiosms.smscenter import codes
from aiosms.smscenter.codes import IVR_STATUSES, REASON_CODES, describe, describe_ivr

S = DeliveryState


# ------------------------------------------------------------------ codes

STATUS_STATES = {"200": S.FAILED, "300": S.ACCEPTED, "400": S.FAILED,
                 "500": S.ACCEPTED, "600": S.DELIVERED, "700": S.FAILED}  # fmt: skip
# Each reason code beside the status it details (the spec's numbering: 2xx with 200, …)
REASON_STATES = {
    **dict.fromkeys(
        ["204", "205", "206", "207", "208", "212", "214", "215", "216", "217", "218"], S.FAILED
    ),
    "210": S.EXPIRED,
    "301": S.ACCEPTED, "401": S.FAILED, "402": S.FAILED, "501": S.ACCEPTED, "601": S.DELIVERED,
    "701": S.EXPIRED,
    **dict.fromkeys(["702", "703", "704", "705", "706", "707"], S.FAILED),
}  # fmt: skip


@pytest.mark.parametrize(("status", "state"), sorted(STATUS_STATES.items()))
def test_every_status_code(status: str, state: DeliveryState) -> None:
    got, text = describe(status)
    assert got is state
    assert codes.STATUS_CODES[status][1] in text  # the spec's name: Failed, Buffered, …
    assert not (state is S.ACCEPTED and got.is_final)


@pytest.mark.parametrize(("reason", "state"), sorted(REASON_STATES.items()))
def test_every_reason_code_beside_its_status(reason: str, state: DeliveryState) -> None:
    status = reason[0] + "00"
    got, text = describe(status, reason)
    assert got is state
    assert f"reason {reason}: {REASON_CODES[reason]}" in text


def test_the_reason_tables_are_the_specs() -> None:
    assert set(REASON_CODES) == set(REASON_STATES) | {"999"}
    assert REASON_CODES["218"] == "TargetMobileCanNotStartWithNumberZero"
    assert REASON_CODES["701"].startswith("Message EXPIRED")
    assert describe("700", "999")[0] is S.FAILED
    assert describe("600", "999")[0] is S.DELIVERED


def test_expiry_only_refines_a_failure() -> None:
    assert describe("700", "701")[0] is S.EXPIRED
    assert describe("200", "210")[0] is S.EXPIRED
    assert describe("600", "701")[0] is S.DELIVERED  # the status decides
    assert describe("500", "701")[0] is S.ACCEPTED


@pytest.mark.parametrize(("status", "reason"), [("100", None), ("0", "601"), ("6000", ""),
                                                 ("abc", None), ("", None)])  # fmt: skip
def test_unknown_status_codes_are_unknown_and_named(status: str, reason: str | None) -> None:
    state, text = describe(status, reason)
    assert state is S.UNKNOWN
    assert f"unknown status code {status}" in text


def test_an_unknown_reason_keeps_the_status_state() -> None:
    state, text = describe("600", "123")
    assert state is S.DELIVERED
    assert "unknown reason code 123" in text
    assert describe("0600", "0701") == describe("600", "701")  # leading zeros


IVR_STATES = {
    "IVRCallSuccess": S.DELIVERED,
    **dict.fromkeys(
        ["IVRCallNotSuccess", "FailedCall", "ExceededtheNumberOfTries", "FailedWithResponse",
         "FailedWithoutResponse", "CompanyDisabled", "MobileEmpty",
         "NotEnoughIVRSecondsAvailable", "NoPermissionToSendToProvider",
         "UserIsDisabledOrDeleted", "NumberBlackListedForCompany", "ProviderNotFound",
         "Undefined", "RestrictHours", "RestrictDate"],
        S.FAILED,
    ),
    "MessageDeleted": S.CANCELLED,
    "Expired": S.EXPIRED,
    "MessageExpired": S.EXPIRED,
    "DelayedMessage": S.SCHEDULED,
    **dict.fromkeys(["Queued", "Calling", "NewCall", "Sent", "Connected", "InConference",
                     "Disconnected"], S.ACCEPTED),
}  # fmt: skip


@pytest.mark.parametrize(("status", "state"), sorted(IVR_STATES.items()))
def test_every_ivr_status(status: str, state: DeliveryState) -> None:
    assert describe_ivr(status) == (state, IVR_STATUSES[status][1])
    assert describe_ivr(f" {status.lower()} ")[0] is state


def test_the_ivr_table_is_the_specs_and_unknowns_are_unknown() -> None:
    assert set(IVR_STATUSES) == set(IVR_STATES)
    assert len(IVR_STATUSES) == 27
    assert describe_ivr("Ringing") == (S.UNKNOWN, "unknown IVR status 'Ringing'")
    assert describe_ivr("7")[0] is S.UNKNOWN
