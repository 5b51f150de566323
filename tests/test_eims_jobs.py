"""aiosms.eims.jobs: the six task types, checked at every edge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosms import InvalidRequestError
from aiosms.eims.jobs import At, Daily, EimsJob, Every, Immediate, Monthly, Weekly, build_job

NUMBERS = ("123456", "3444", "54535")


def job(**kwargs: Any) -> EimsJob:
    fields: dict[str, Any] = {"name": "job_with_number", "content": "test", "numbers": NUMBERS}
    return EimsJob(**(fields | kwargs))


def test_the_specs_first_sample() -> None:
    assert build_job(job()) == {
        "job": "job_with_number",
        "jobtype": 0,
        "content": "test",
        "numbersrc": 0,
        "numbers": "123456,3444,54535",
        "retry": 0,
        "flash": 0,
    }


def test_the_specs_daily_sample_with_a_numbers_file() -> None:
    body = build_job(
        job(numbers=(), numbers_url="http://ip:port/sms.xls", schedule=Daily(0, 9, 1), period=10)
    )
    assert {k: body[k] for k in ("jobtype", "period", "hour", "min", "numbersrc", "numbers")} == {
        "jobtype": 3,
        "period": 10,
        "hour": 9,
        "min": 0,
        "numbersrc": 1,
        "numbers": "http://ip:port/sms.xls",
    }


@pytest.mark.parametrize(
    ("schedule", "jobtype", "fields"),
    [
        (Immediate(), 0, {}),
        (At(datetime(2031, 1, 1, tzinfo=UTC)), 1, {"planstarttm": 1924992000}),
        (Every(30, 0, 8, 1), 2, {"interval": 30, "min": 0, "hour": 8, "day": 1}),
        (Daily(59, 23, 31), 3, {"min": 59, "hour": 23, "day": 31}),
        (Weekly(0, 0, 7), 4, {"min": 0, "hour": 0, "week": 7}),
        (Monthly(15, 12, 1, 12), 5, {"min": 15, "hour": 12, "day": 1, "mon": 12}),
    ],
)
def test_each_type_writes_its_fields(schedule: Any, jobtype: int, fields: dict[str, int]) -> None:
    body = build_job(job(schedule=schedule))
    assert body["jobtype"] == jobtype
    assert {k: body[k] for k in fields} == fields
    for absent in {"interval", "min", "hour", "day", "week", "mon", "planstarttm"} - set(fields):
        assert absent not in body


@pytest.mark.parametrize(
    "schedule",
    [
        Daily(60, 9, 1),
        Daily(-1, 9, 1),
        Daily(0, 24, 1),
        Daily(0, 9, 0),
        Daily(0, 9, 32),
        Weekly(0, 9, 0),
        Weekly(0, 9, 8),
        Monthly(0, 9, 1, 0),
        Monthly(0, 9, 1, 13),
        Every(0, 0, 9, 1),
        Every(1.5, 0, 9, 1),
        Daily(True, 9, 1),
        At(datetime(2031, 1, 1)),
    ],
)
def test_every_range_is_checked_at_its_edges(schedule: Any) -> None:
    with pytest.raises(InvalidRequestError):
        build_job(job(schedule=schedule))


@given(minute=st.integers(0, 59), hour=st.integers(0, 23), day=st.integers(1, 31))
def test_every_value_in_range_is_taken(minute: int, hour: int, day: int) -> None:
    body = build_job(job(schedule=Daily(minute, hour, day)))
    assert (body["min"], body["hour"], body["day"]) == (minute, hour, day)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": " "},
        {"name": "x" * 65},
        {"content": ""},
        {"content": "x" * 1025},
        {"numbers": ()},
        {"numbers": "123,456"},
        {"numbers": ("1,2",)},
        {"numbers": ("1" * 4095, "2")},  # 4,097 bytes with the comma
        {"numbers": (), "numbers_url": "http://ip/sms.xlsx"},
        {"numbers": (), "numbers_url": "http://ip/sms.csv"},
        {"numbers": (), "numbers_url": "ftp://ip/sms.xls"},
        {"numbers_url": "http://ip/sms.xls"},  # and numbers too
        {"period": 3},  # not a periodic task
        {"schedule": "daily"},
        {"retry": -1},
        {"mms_title": ""},
    ],
)
def test_bad_tasks_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        build_job(job(**kwargs))


def test_boundaries_that_are_allowed() -> None:
    assert build_job(job(name="x" * 64))["job"] == "x" * 64
    assert len(build_job(job(content="x" * 1024))["content"]) == 1024
    exactly = ("1" * 4096,)  # 4 KiB inline: the most allowed
    assert build_job(job(numbers=exactly))["numbers"] == "1" * 4096
    with pytest.raises(InvalidRequestError, match="4096"):
        build_job(job(numbers=("1" * 4097,)))
    url = "https://files.example/SMS.XLS?v=2"
    assert build_job(job(numbers=(), numbers_url=url))["numbers"] == url
    mms = build_job(job(mms_title="Sale", sender="Shop", flash=True))
    assert (mms["SMStype"], mms["MMStitle"], mms["SenderId"], mms["flash"]) == (
        1,
        "Sale",
        "Shop",
        1,
    )
