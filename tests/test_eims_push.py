"""aiosms.eims.push: the EIMS report push, parsed and received."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import DeliveryState, ResponseFormatError
from aiosms.eims.push import EimsPushReceiver, parse_push_body

TOKEN = "eims-pushes-only.for~acme"
SAMPLE = {
    "type": "report",
    "cnt": 2,
    "array": [
        [1, "1234545456", 20180801123015, 0, "success"],
        [2, "2356844545", 20180801223015, 1, "no balance"],
    ],
}


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_the_specs_sample() -> None:
    ok, failed = parse_push_body(body(SAMPLE))
    assert (ok.message_id, ok.mobile, ok.state, ok.status) == (
        "1", "1234545456", DeliveryState.DELIVERED, "0",
    )  # fmt: skip
    assert ok.sent_at == datetime(2018, 8, 1, 12, 30, 15, tzinfo=UTC)
    assert (failed.state, failed.description, dict(failed.details)) == (
        DeliveryState.FAILED, "no balance", {"cause": "no balance"},
    )  # fmt: skip
    hash(failed)  # hashable, for the receiver's backlog


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"type": "sms", "array": []},
        {"type": "report", "array": "1,2"},
        {"type": "report", "array": [[1, "123", 20180801123015, 0]]},
        {"type": "report", "array": [[1, "123", 20180801123015, "ok", "x"]]},
        {"type": "report", "array": [[1, "123", "yesterday", 0, "x"]]},
        {"type": "report", "array": [[1, "123", 20180801123015, 0, "x" * 3000]]},
        {"type": "report", "array": [[1, "123", 20180801123015, 0, "x"]] * 51},
    ],
)
def test_malformed_pushes_are_refused(data: object) -> None:
    with pytest.raises(ResponseFormatError):
        parse_push_body(body(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_never_a_crash(raw: bytes) -> None:
    try:
        reports = parse_push_body(raw)
    except ResponseFormatError:
        return
    assert all(r.message_id for r in reports)


async def test_the_receiver_accepts_authenticated_puts_once_per_call() -> None:
    receiver = EimsPushReceiver(token=TOKEN)
    async with receiver.subscribe(["1", "2"]) as events:
        answer = await receiver.accept("PUT", {"token": TOKEN}, body(SAMPLE), peer="127.0.0.1")
        assert answer.status == 200
        with anyio.fail_after(2):
            first, second = await events.receive(), await events.receive()
        assert {first.message_id, second.message_id} == {"1", "2"}
        # The same push again (the gateway repeats one it saw fail) is accepted again.
        again = await receiver.accept("PUT", {"token": TOKEN}, body(SAMPLE), peer="127.0.0.1")
        assert again.status == 200
    refused = [
        await receiver.accept("PUT", {}, body(SAMPLE), peer="127.0.0.1"),  # no token
        await receiver.accept("PUT", {"token": "wrong-token-0123456789"}, body(SAMPLE)),
        await receiver.accept("GET", {"token": TOKEN}, b""),  # not a PUT
        await receiver.accept("PUT", {"token": TOKEN}, b"{not json"),
    ]
    assert [a.status for a in refused[:2]] == [403, 403]
    assert refused[2].status == 405
    assert refused[3].status == 400
    assert (receiver.received, receiver.refused) == (2, 4)


def test_a_result_of_thousands_of_digits_is_refused_not_a_crash() -> None:
    huge = {"type": "report", "cnt": 1, "array": [[1, "10010", 20180801123015, "9" * 5_000, ""]]}
    with pytest.raises(ResponseFormatError):
        parse_push_body(body(huge))
