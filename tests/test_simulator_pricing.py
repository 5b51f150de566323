"""The simulator's EVERY8D price table (spec: "more than 333 characters ... the system
will separate automatically"), kept independent of the client's estimate_cost."""

from __future__ import annotations

import pytest

from aiosms.testing import Every8dWorld, message_cost


def test_long_texts_are_split_into_333_character_parts() -> None:
    taiwan, abroad = "0912345678", "+15551234567"
    cases = {
        333: 5,
        334: 5 + 1,
        403: 5 + 1,
        404: 5 + 2,
        666: 5 + 5,
        667: 5 + 5 + 1,
    }
    for length, points in cases.items():
        assert message_cost("字" * length, taiwan) == points, length
        assert message_cost("a" * length, "+886912345678") == points, length
        assert message_cost("a" * length, abroad) == 3 * points, length
    assert message_cost("x" * 1000, "0912345678") == 5 + 5 + 5 + 1


@pytest.mark.parametrize(
    ("length", "mobile", "points"),
    [
        (333, "0912345678", 5),
        (334, "0912345678", 6),
        (403, "+886912345678", 6),
        (404, "+886912345678", 7),
        (666, "0912345678", 10),
        (667, "0912345678", 11),
        (403, "+4412345678", 18),
        (667, "886912345678", 33),  # no "+": international
    ],
)
def test_boundaries_charged_on_send(length: int, mobile: str, points: int) -> None:
    world = Every8dWorld(clock=lambda: 1_000_000.0)
    account = world.account("demo")
    result = world.send_sms(account, content="a" * length, mobile=mobile)
    credit, sent, cost, unsent, batch_id = result.split(",")
    assert (sent, cost, unsent) == ("1", f"{points}.0", "0")
    assert credit == f"{1000 - points}.00"
    assert world.recipients(batch_id)[0].cost == points
