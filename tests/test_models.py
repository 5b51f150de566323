"""aiosms.models: DeliveryState, frozen models, to_dict/from_dict."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    Balance,
    CancelResult,
    DeliveryReport,
    DeliveryState,
    InboundMessage,
    Personalized,
    Reply,
    SendResult,
    StatusChange,
    from_dict,
    to_dict,
)
from aiosms.models import Details

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FINAL = {
    DeliveryState.DELIVERED,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.CANCELLED,
}


@pytest.mark.parametrize("state", list(DeliveryState))
def test_is_final(state: DeliveryState) -> None:
    assert state.is_final is (state in FINAL)


def test_not_final_states() -> None:
    assert not DeliveryState.SCHEDULED.is_final
    assert not DeliveryState.ACCEPTED.is_final
    assert not DeliveryState.UNKNOWN.is_final  # an unknown code may still change


def test_state_values_are_stable() -> None:
    # These strings are what to_dict stores; changing one breaks stored data.
    assert {s.name: s.value for s in DeliveryState} == {
        "SCHEDULED": "scheduled",
        "ACCEPTED": "accepted",
        "DELIVERED": "delivered",
        "FAILED": "failed",
        "EXPIRED": "expired",
        "CANCELLED": "cancelled",
        "UNKNOWN": "unknown",
    }


@pytest.mark.parametrize(("cancelled", "found"), [(0, False), (1, True), (250, True)])
def test_cancel_result_found(cancelled: int, found: bool) -> None:
    assert CancelResult(cancelled, Decimal(0)).found is found


# ------------------------------------------------------------------- frozen


def report(**changes: Any) -> DeliveryReport:
    fields: dict[str, Any] = {
        "batch_id": "b1",
        "message_id": None,
        "mobile": "+886912345678",
        "name": "Roger",
        "state": DeliveryState.DELIVERED,
        "status": "100",
        "description": "delivered to the handset",
        "sent_at": datetime(2010, 3, 20, 3, 27, 50, tzinfo=timezone(timedelta(hours=8))),
        "cost": Decimal("1.00"),
    }
    fields.update(changes)
    return DeliveryReport(**fields)


FROZEN_CASES = [
    (SendResult("b", 1, Decimal(1), Decimal(2)), "sent"),
    (report(), "state"),
    (report(details=Details({"CustID": "A-17", "CHARGE": "1"})), "details"),
    (Reply("m", "t", None), "text"),
    (InboundMessage("m", "t", None), "text"),
    (StatusChange(report(), None, DeliveryState.DELIVERED), "previous"),
    (Personalized("0912345678", "hi"), "text"),
    (Balance(Decimal(1)), "credit"),
    (CancelResult(1, Decimal(1)), "cancelled"),
]


@pytest.mark.parametrize(("model", "field"), FROZEN_CASES)
def test_models_are_frozen(model: object, field: str) -> None:
    before = getattr(model, field)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(model, field, "changed")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        delattr(model, field)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.not_a_field = 1  # type: ignore[attr-defined]
    assert getattr(model, field) == before


@pytest.mark.parametrize(("model", "field"), FROZEN_CASES)
def test_models_are_hashable_and_compare_by_value(model: object, field: str) -> None:
    twin = attrs.evolve(model)  # type: ignore[misc]
    assert twin == model
    assert twin is not model
    if not any(isinstance(v, dict) for v in attrs.asdict(model, recurse=False).values()):  # type: ignore[arg-type]
        assert hash(twin) == hash(model)


def test_defaults() -> None:
    result = SendResult("b", 1, Decimal(1), Decimal(2))
    assert (result.unsent, dict(result.message_ids)) == (0, {})
    assert SendResult("c", 1, Decimal(1), Decimal(2)).message_ids is not result.message_ids
    assert report().replies == ()
    assert report().details is Details()  # one shared empty instance, no allocation
    assert Reply("m", "t", None).details is report().details
    p = Personalized("0912345678", "hi")
    assert (p.name, p.email, p.at) == ("", "", None)


# ------------------------------------------------------------------- to_dict / from_dict

TEXT = st.text(max_size=20)
OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(lambda d: timezone(timedelta(minutes=d // timedelta(minutes=1))))
AWARE = st.datetimes(timezones=st.one_of(st.just(UTC), OFFSETS))
STATES = st.sampled_from(list(DeliveryState))
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False)
DETAILS = st.dictionaries(TEXT, TEXT, max_size=3).map(Details)

replies = st.builds(
    Reply,
    mobile=TEXT,
    text=TEXT,
    received_at=st.none() | AWARE,
    message_id=st.none() | TEXT,
    batch_id=st.none() | TEXT,
    details=DETAILS,
)
reports = st.builds(
    DeliveryReport,
    batch_id=st.none() | TEXT,
    message_id=st.none() | TEXT,
    mobile=TEXT,
    name=TEXT,
    state=STATES,
    status=TEXT,
    description=TEXT,
    sent_at=st.none() | AWARE,
    cost=st.none() | DECIMALS,
    replies=st.lists(replies, max_size=3).map(tuple),
    reported_at=st.none() | AWARE,
    details=DETAILS,
)
MODELS = st.one_of(
    st.builds(
        SendResult,
        batch_id=st.none() | TEXT,
        sent=st.integers(0, 10**12),
        cost=DECIMALS,
        credit=DECIMALS,
        unsent=st.integers(0, 10**6),
        message_ids=st.dictionaries(TEXT, TEXT, max_size=3),
    ),
    reports,
    replies,
    st.builds(
        InboundMessage,
        mobile=TEXT,
        text=TEXT,
        received_at=st.none() | AWARE,
        message_id=st.none() | TEXT,
    ),
    st.builds(StatusChange, report=reports, previous=st.none() | STATES, state=STATES),
    st.builds(Personalized, to=TEXT, text=TEXT, name=TEXT, email=TEXT, at=st.none() | AWARE),
    st.builds(Balance, credit=DECIMALS, extra=st.dictionaries(TEXT, DECIMALS, max_size=3)),
    st.builds(CancelResult, cancelled=st.integers(0, 10**6), credit_returned=DECIMALS),
)


def exact(value: Any) -> Any:
    """A structure that tells apart what ``==`` does not: Decimal("1.0") vs Decimal("1"),
    and the same instant at different UTC offsets."""
    if attrs.has(type(value)):
        return (type(value).__name__, exact(attrs.asdict(value, recurse=False)))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return tuple(exact(v) for v in value)
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.utcoffset())
    return (type(value).__name__, value)


@PROPS
@given(model=MODELS)
def test_round_trip_is_exact(model: Any) -> None:
    data = to_dict(model)
    back = from_dict(type(model), data)
    assert back == model
    assert exact(back) == exact(model)


@PROPS
@given(model=MODELS)
def test_dicts_are_json_ready(model: Any) -> None:
    data = to_dict(model)
    text = json.dumps(data, ensure_ascii=False)
    back = from_dict(type(model), json.loads(text))
    assert exact(back) == exact(model)


def test_dict_shape() -> None:
    change = StatusChange(
        report(replies=(Reply("+886912345678", "好", datetime(2010, 3, 23, 4, 5, 9, tzinfo=UTC)),)),
        previous=DeliveryState.ACCEPTED,
        state=DeliveryState.DELIVERED,
    )
    assert to_dict(change) == {
        "report": {
            "batch_id": "b1",
            "message_id": None,
            "mobile": "+886912345678",
            "name": "Roger",
            "state": "delivered",
            "status": "100",
            "description": "delivered to the handset",
            "sent_at": "2010-03-20T03:27:50+08:00",
            "cost": "1.00",
            "replies": [
                {
                    "mobile": "+886912345678",
                    "text": "好",
                    "received_at": "2010-03-23T04:05:09+00:00",
                    "message_id": None,
                    "batch_id": None,
                    "details": {},
                }
            ],
            "reported_at": None,
            "details": {},
        },
        "previous": "accepted",
        "state": "delivered",
    }


def test_dicts_stored_before_fields_were_added_still_load() -> None:
    # Reply.batch_id, DeliveryReport.reported_at and both details came later; older
    # dicts lack them.
    data = to_dict(report(replies=(Reply("+886912345678", "好", None),)))
    del data["reported_at"]
    del data["details"]
    del data["replies"][0]["batch_id"]
    del data["replies"][0]["details"]
    back = from_dict(DeliveryReport, data)
    assert back == report(replies=(Reply("+886912345678", "好", None),))
    assert back.reported_at is None
    assert back.details is Details()
    assert back.replies[0].details is Details()


def test_money_is_never_a_float() -> None:
    data = to_dict(SendResult("b", 1, Decimal("0.1"), Decimal("1230.00")))
    assert (data["cost"], data["credit"]) == ("0.1", "1230.00")
    back = from_dict(SendResult, data)
    assert type(back.cost) is Decimal
    assert str(back.credit) == "1230.00"
    # Numbers written by other tools are read through str, so 0.1 stays 0.1.
    assert from_dict(SendResult, {**data, "cost": 0.1}).cost == Decimal("0.1")


def test_naive_datetime_is_refused() -> None:
    data = to_dict(report())
    data["sent_at"] = "2010-03-20T03:27:50"
    with pytest.raises(Exception, match="DeliveryReport") as info:
        from_dict(DeliveryReport, data)
    causes = list(getattr(info.value, "exceptions", [info.value]))
    assert any("UTC offset" in str(c) for c in causes)


def test_unknown_state_value_is_refused() -> None:
    data = to_dict(report())
    data["state"] = "teleported"
    with pytest.raises(Exception, match="DeliveryReport"):
        from_dict(DeliveryReport, data)


def test_to_dict_refuses_what_is_not_a_model() -> None:
    with pytest.raises(TypeError, match="not an aiosms model"):
        to_dict(42)


# ------------------------------------------------------------------- Details


def test_details_is_a_read_only_mapping() -> None:
    details = Details({"CustID": "A-17", "CHARGE": "1"})
    assert details["CHARGE"] == "1"
    assert (len(details), list(details), "CustID" in details, "x" in details) == (
        2,
        ["CustID", "CHARGE"],
        True,
        False,
    )
    assert details.get("NAME") is None
    assert dict(details.items()) == {"CustID": "A-17", "CHARGE": "1"}
    with pytest.raises(TypeError):
        details["CHARGE"] = "2"  # type: ignore[index]
    with pytest.raises(TypeError):
        del details["CHARGE"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        details._data = {}
    with pytest.raises(AttributeError):
        details.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(details, "__dict__")
    assert details == {"CustID": "A-17", "CHARGE": "1"}


def test_details_copies_what_it_is_given() -> None:
    source = {"CustID": "A-17"}
    details = Details(source)
    source["CustID"] = "changed"
    assert details["CustID"] == "A-17"
    assert Details([("a", "1"), ("b", "2")]) == Details({"b": "2", "a": "1"})
    assert Details(details) is details


def test_details_hash_by_value_and_keep_reports_hashable() -> None:
    one, two = Details({"a": "1", "b": "2"}), Details([("b", "2"), ("a", "1")])
    assert (one == two, hash(one) == hash(two), one != Details({"a": "1"})) == (True,) * 3
    assert one != {"a": "1"}
    assert one != "a"
    kept = {report(details=one), report(details=two), report()}
    assert len(kept) == 2


def test_details_empty_is_one_shared_instance() -> None:
    assert Details() is Details({}) is Details([]) is report().details
    assert not Details()


@pytest.mark.parametrize("bad", [{"a": 1}, {1: "a"}, {"a": None}, [("a", b"1")]])
def test_details_hold_text_only(bad: Any) -> None:
    with pytest.raises(TypeError, match="text"):
        Details(bad)


def test_details_pickle_copy_and_repr() -> None:
    details = Details({"CustID": "好"})
    assert pickle.loads(pickle.dumps(details)) == details  # noqa: S301  (our own bytes)
    assert copy.copy(details) is details
    assert copy.deepcopy(details) is details
    assert repr(details) == "Details({'CustID': '好'})"
    assert eval(repr(details)) == details  # noqa: S307


def test_details_round_trip_as_a_plain_dict_of_text() -> None:
    model = report(details=Details({"CustID": "A-17", "CHARGE": "1"}))
    data = to_dict(model)
    assert data["details"] == {"CustID": "A-17", "CHARGE": "1"}
    assert type(data["details"]) is dict
    back = from_dict(DeliveryReport, json.loads(json.dumps(data)))
    assert back == model
    assert type(back.details) is Details
    hash(back)
    data["details"] = {"CHARGE": 1}
    with pytest.raises(Exception, match="DeliveryReport"):
        from_dict(DeliveryReport, data)
    data["details"] = ["CHARGE"]
    with pytest.raises(Exception, match="DeliveryReport"):
        from_dict(DeliveryReport, data)
