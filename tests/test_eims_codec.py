"""aiosms.eims.codec and .reports: signing, result codes, balance, send parts (plain and
smsarray), reply numbers echoed as JSON numbers, reports of four or five fields,
inbound messages, the job reply."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    AccountBlockedError,
    AuthenticationError,
    DeliveryState,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)
from aiosms._parts import merge_parts
from aiosms.eims.codec import (
    MAX_CONTENT,
    EimsText,
    auth_fields,
    build_personalized_parts,
    build_send_parts,
    parse_balance,
    parse_job,
    parse_send,
    sign,
)
from aiosms.eims.reports import (
    build_report_requests,
    describe,
    parse_inbound,
    parse_reports,
    read_inbound,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
NUMBER = st.from_regex(r"[1-9][0-9]{6,14}", fullmatch=True)


def reply(**data: object) -> bytes:
    return json.dumps({"status": 0, **data}).encode()


# ---------------------------------------------------------------------------- auth


@FUZZ
@given(account=TEXT, password=TEXT, key=TEXT, seq=st.integers(1, 2**40), time=st.integers(0))
def test_signature_is_the_specs_md5(
    account: str, password: str, key: str, seq: int, time: int
) -> None:
    data = f"{account}{password}{seq}{time}{key}".encode()
    expected = hashlib.md5(data).hexdigest()  # noqa: S324 (the gateway's scheme)
    fields = auth_fields(account, password, key=key, seq=seq, time=time)
    assert fields == {"account": account, "password": expected, "seq": seq, "time": time}
    assert sign(account, password, seq, time, key) == expected
    assert fields["password"] != password  # the plain password is never sent


def test_the_signature_changes_with_every_part() -> None:
    base = sign("acme", "pw", 1, 1700000000, "k")
    others = {
        sign("acme", "pw", 2, 1700000000, "k"),
        sign("acme", "pw", 1, 1700000001, "k"),
        sign("acme", "pw", 1, 1700000000, "K"),
        sign("acme", "pW", 1, 1700000000, "k"),
    }
    assert len(others | {base}) == 5
    assert auth_fields("acme", "pw") == {"account": "acme", "password": "pw"}
    for bad in (0, -1, True):
        with pytest.raises(InvalidRequestError, match="seq"):
            auth_fields("acme", "pw", key="k", seq=bad)


# ---------------------------------------------------------------------------- codes


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (-1, AuthenticationError),
        (-13, AccountBlockedError),
        (-10, InsufficientCreditError),
        (-2, ProviderError),
        (-9, ProviderError),
        (-99, ProviderError),
        ("-1", AuthenticationError),
    ],
)
def test_status_codes_map_to_the_error_tree(status: object, error: type[Exception]) -> None:
    body = json.dumps({"status": status}).encode()
    with pytest.raises(error) as info:
        parse_balance(body)
    assert type(info.value) is error
    assert info.value.code == str(status)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502</html>", b"[]", b"{}", b'{"status": true}', b'{"status": null}',
     b"[" * 100_000 + b"]" * 100_000, b'{"status": 0, "balance": ' + b"9" * 5000 + b"}",
     b"\xff\xfe", b'{"status": 0, "balance": "NaN"}', b'{"status": 0, "balance": [1]}'],
)  # fmt: skip
def test_malformed_replies_are_response_format_errors(body: bytes) -> None:
    with pytest.raises(ResponseFormatError):
        parse_balance(body)


def test_balance_as_decimals() -> None:
    balance, gift = parse_balance(b'{ "status":0, "balance":"99.990000", "gift":"50.00000"}')
    assert (balance, gift) == (Decimal("99.99"), Decimal(50))
    assert isinstance(balance, Decimal)
    assert str(balance) == "99.990000"
    assert parse_balance(b'{"status": 0, "balance": 7}') == (Decimal(7), Decimal(0))
    with pytest.raises(ResponseFormatError, match="balance"):
        parse_balance(b'{"status": 0, "gift": "1"}')  # no balance is not a balance of 0


# ---------------------------------------------------------------------------- send


@FUZZ
@given(numbers=st.lists(NUMBER, min_size=1, max_size=60), size=st.integers(1, 25))
def test_send_parts_keep_every_number_once_in_order(numbers: list[str], size: int) -> None:
    parts = build_send_parts("hi", numbers, part_size=size)
    assert [n for part in parts for n in part.numbers] == list(dict.fromkeys(numbers))
    assert all(1 <= len(part.numbers) <= size for part in parts)
    assert all(part.body["numbers"] == ",".join(part.numbers) for part in parts)


def test_twenty_five_thousand_numbers_make_three_posts() -> None:
    numbers = [f"8869{i:08d}" for i in range(25_000)]
    parts = build_send_parts("hi", numbers, sender="Shop")
    assert [len(p.numbers) for p in parts] == [10_000, 10_000, 5_000]
    assert parts[0].body == {
        "content": "hi",
        "smstype": 0,
        "sender": "Shop",
        "numbers": ",".join(numbers[:10_000]),
    }


def test_send_options_and_refusals() -> None:
    at = datetime(2031, 1, 31, 7, 30, 15, tzinfo=UTC)
    (part,) = build_send_parts(
        "hi", ["10010"], at=at, mms_title="Title", tz=timezone(timedelta(hours=8))
    )
    assert (part.body["sendtime"], part.body["smstype"], part.body["mmstitle"]) == (
        "20310131153015", 1, "Title",
    )  # fmt: skip
    assert len(build_send_parts("x" * MAX_CONTENT, ["10010"])[0].body["content"]) == 1024
    assert build_send_parts("hi", " 10010 ")[0].numbers == ("10010",)  # one str: one number
    for kwargs in (
        {"text": "x" * (MAX_CONTENT + 1)},
        {"text": ""},
        {"numbers": []},
        {"numbers": ["10010,10011"]},
        {"numbers": ["100 10"]},
        {"numbers": [10010]},
        {"sender": ""},
        {"at": datetime(2031, 1, 1)},
        {"mms_title": " "},
    ):
        args: dict[str, object] = {"text": "hi", "numbers": ["10010"]} | kwargs
        text, numbers = args.pop("text"), args.pop("numbers")
        with pytest.raises(InvalidRequestError):
            build_send_parts(text, numbers, **args)  # type: ignore[arg-type]


def test_parse_send_merges_ids_and_reports_the_numbers_not_accepted() -> None:
    body = reply(success=2, fail=1, array=[[10010, 1], ["1008611", "2"]])
    ids, rejected = parse_send(body, ["10010", "1008611", "999"])
    assert ids == {"10010": "1", "1008611": "2"}
    assert rejected == ["999"]
    with pytest.raises(ResponseFormatError):
        parse_send(reply(array=[[1, 2], [3, 4]]), ["1"])  # more rows than numbers
    with pytest.raises(ResponseFormatError):
        parse_send(reply(array=[[10010]]), ["10010"])
    with pytest.raises(ResponseFormatError):
        parse_send(reply(array=[[10010, None]]), ["10010"])


# ---------------------------------------------------------------------------- reports


def test_report_requests_are_200_ids_each_without_duplicates() -> None:
    ids = [str(i) for i in range(1000)] + ["5", "7"]
    parts = build_report_requests(ids)
    assert [len(p.ids) for p in parts] == [200] * 5
    assert parts[0].query == {"ids": ",".join(str(i) for i in range(200))}
    with pytest.raises(InvalidRequestError):
        build_report_requests("1,2")


@pytest.mark.parametrize(
    ("send", "deliver", "state"),
    [
        (0, None, DeliveryState.ACCEPTED),
        (0, 0, DeliveryState.ACCEPTED),
        (0, 1, DeliveryState.ACCEPTED),
        (0, 2, DeliveryState.FAILED),
        (0, 3, DeliveryState.DELIVERED),
        (0, 4, DeliveryState.EXPIRED),
        (0, 5, DeliveryState.UNKNOWN),
        (0, 9, DeliveryState.UNKNOWN),
        (1, None, DeliveryState.ACCEPTED),
        (2, 3, DeliveryState.ACCEPTED),
        (1011, None, DeliveryState.FAILED),
        (4242, None, DeliveryState.FAILED),
    ],
)
def test_send_and_deliver_status_make_one_state(
    send: int, deliver: int | None, state: DeliveryState
) -> None:
    assert describe(send, deliver)[0] is state


def test_the_error_table_is_the_description() -> None:
    assert describe(1011, None)[2] == "not sent: Black Number"
    assert describe(1003, None)[2] == "not sent: NoBalance"


def test_reports_of_four_and_five_fields_and_unknown_ids() -> None:
    body = reply(array=[[1, 10010, 20171001123015, 0], ["2", "1008611", "20171001123015", 0, 3]])
    first, second, missing = parse_reports(body, ["1", "2", "3"])
    assert (first.message_id, first.mobile, first.state) == ("1", "10010", DeliveryState.ACCEPTED)
    assert first.sent_at == datetime(2017, 10, 1, 12, 30, 15, tzinfo=UTC)
    assert (second.state, second.status) == (DeliveryState.DELIVERED, "0/3")
    assert (missing.message_id, missing.state) == ("3", DeliveryState.UNKNOWN)
    assert "does not know" in missing.description


@pytest.mark.parametrize(
    "row",
    [
        [1, 10010, 20171001123015],
        [1, 10010, 20171001123015, 0, 3, 9],
        [1, 10010, "soon", 0],
        [1, 10010, 20171301123015, 0],
        [None, 10010, 20171001123015, 0],
        [1, 10010, 20171001123015, "x"],
        "1,10010",
    ],
)
def test_report_rows_of_odd_shapes_are_refused(row: object) -> None:
    with pytest.raises(ResponseFormatError):
        parse_reports(reply(array=[row]), ["1"])


@FUZZ
@given(rows=st.lists(st.lists(st.one_of(st.integers(), TEXT, st.none()), max_size=6), max_size=5))
def test_report_parsing_never_crashes(rows: list[list[object]]) -> None:
    try:
        reports = parse_reports(reply(array=rows), [str(i) for i in range(5)])
    except ResponseFormatError:
        return
    assert len(reports) == 5


# ---------------------------------------------------------------------------- inbound


@FUZZ
@given(text=TEXT, number=NUMBER)
def test_inbound_content_is_base64_utf8(text: str, number: str) -> None:
    content = base64.b64encode(text.encode()).decode()
    (message,) = parse_inbound(reply(cnt=1, array=[[7, int(number), 20171001123015, content]]))
    assert (message.message_id, message.mobile, message.text) == ("7", number, text)


def test_inbound_content_that_is_not_base64_utf8_names_its_id() -> None:
    for content in ("not base64!", base64.b64encode(b"\xff\xfe").decode()):
        with pytest.raises(ResponseFormatError, match="'42'"):
            parse_inbound(reply(array=[[42, 10010, 20171001123015, content]]))
    with pytest.raises(ResponseFormatError):
        parse_inbound(reply(array=[[1, 10010, 20171001123015, "aGk="]] * 51))


# ---------------------------------------------------------------------------- echoes


@FUZZ
@given(
    numbers=st.lists(st.from_regex(r"\+?0{0,2}[1-9][0-9]{4,12}", fullmatch=True), min_size=1,
                     max_size=40, unique=True),
    as_int=st.lists(st.booleans(), min_size=40, max_size=40),
    order=st.randoms(use_true_random=False),
)  # fmt: skip
def test_reply_numbers_echoed_as_json_numbers_map_back_to_what_was_sent(
    numbers: list[str], as_int: list[bool], order: Any
) -> None:
    # The gateway writes numbers as JSON numbers: a "+" and leading zeros are lost.
    flags = as_int[: len(numbers)]
    rows = [
        [int(n) if f else n, 100 + i] for i, (n, f) in enumerate(zip(numbers, flags, strict=True))
    ]
    order.shuffle(rows)
    ids, rejected = parse_send(reply(array=rows), numbers)
    assert rejected == []
    assert sorted(ids.values(), key=int) == [str(100 + i) for i in range(len(numbers))]
    for number in numbers:
        # Numbers equal but for zeros may swap ids between them; none is lost or doubled.
        same = [n for n in numbers if n.lstrip("+").lstrip("0") == number.lstrip("+").lstrip("0")]
        assert ids[number] in {str(100 + numbers.index(n)) for n in same}


def test_an_id_for_a_number_never_sent_makes_the_reply_unreadable() -> None:
    with pytest.raises(ResponseFormatError, match="not sent"):
        parse_send(reply(array=[[10010, 1], [55555, 2]]), ["10010", "10011"])


@FUZZ
@given(
    items=st.lists(st.tuples(st.lists(NUMBER, min_size=1, max_size=12, unique=True), TEXT),
                   min_size=1, max_size=8),
    size=st.integers(1, 20),
)  # fmt: skip
def test_personalized_parts_carry_every_item_and_number_once(
    items: list[tuple[list[str], str]], size: int
) -> None:
    seen: set[str] = set()
    texts = []
    for numbers, text in items:
        mine = [n for n in numbers if n not in seen]
        seen.update(mine)
        if mine:
            texts.append((mine, text or "x"))
    parts = build_personalized_parts([EimsText(n, t) for n, t in texts], part_size=size)
    assert all(1 <= len(p.numbers) <= size for p in parts)
    sent = [
        (row["numbers"].split(","), row["content"]) for p in parts for row in p.body["smsarray"]
    ]
    assert [n for p in parts for n in p.numbers] == [n for numbers, _ in texts for n in numbers]
    flat = [(n, t) for numbers, t in sent for n in numbers]
    assert flat == [(n, t) for numbers, t in texts for n in numbers]


def test_personalized_refusals() -> None:
    for items in ([], "hi", [("1", "hi")], [EimsText("1", "")], [EimsText([], "hi")],
                  [EimsText("1", "hi", mms_title=" ")]):  # fmt: skip
        with pytest.raises(InvalidRequestError):
            build_personalized_parts(items)  # type: ignore[arg-type]


def test_the_job_reply() -> None:
    assert parse_job(reply(jobid=2)) == "2"
    with pytest.raises(ResponseFormatError):
        parse_job(reply())
    with pytest.raises(ProviderError, match="64"):
        parse_job(json.dumps({"status": -15}).encode())


@FUZZ
@given(texts=st.lists(TEXT, min_size=1, max_size=10), bad=st.integers(0, 9))
def test_read_inbound_keeps_every_readable_message_beside_a_bad_one(
    texts: list[str], bad: int
) -> None:
    rows: list[list[Any]] = [
        [i, 10010, 20171001123015, base64.b64encode(t.encode()).decode()]
        for i, t in enumerate(texts)
    ]
    bad %= len(texts)
    rows[bad][3] = "@@not base64@@"
    messages, errors = read_inbound(reply(array=rows))
    assert [m.text for m in messages] == [t for i, t in enumerate(texts) if i != bad]
    (error,) = errors
    assert f"'{bad}'" in str(error)


# ---------------------------------------------------------------------------- hostile


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 200_000,
        b'{"status": 0, "array": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"status": "' + b"9" * 5_000 + b'"}',
        b'{"status": ' + b"9" * 5_000 + b"}",
        b'{"status": 0, "array": [' + b'[1, "x", 1, 0],' * 50_000 + b"[1]]}",
        b"\xff\xfe{}",
        b'{"status": 0, "array": [[{"a": 1}, 1, 20170101000000, 0]]}',
        b'{"status": 0, "array": [["1", "' + b"9" * 1_000 + b'", "2017", 0]]}',
    ],
)
def test_hostile_replies_are_refused_as_unreadable(body: bytes) -> None:
    for parse in (
        lambda b: parse_reports(b, ["1"]),
        lambda b: parse_send(b, ["10010"]),
        lambda b: read_inbound(b),
        parse_balance,
        parse_job,
    ):
        if parse in (parse_balance, parse_job) and b'"array"' in body:
            continue  # these read no array: a hostile one is no concern of theirs
        with pytest.raises(ResponseFormatError):
            parse(body)


# ---------------------------------------------------------------------------- merging


@FUZZ
@given(outcomes=st.lists(st.sampled_from(["ok", "unknown", "refused"]), min_size=1, max_size=6))
def test_merged_parts_keep_every_accepted_id_and_every_failed_number(outcomes: list[str]) -> None:
    from aiosms import SendOutcomeUnknownError

    numbers = [f"8869{i:08d}" for i in range(3 * len(outcomes))]
    parts = build_send_parts("hi", numbers, part_size=3)
    results: list[Any] = []
    for part, kind in zip(parts, outcomes, strict=True):
        if kind == "ok":  # the part's last number refused by the gateway
            results.append(({n: f"id-{n}" for n in part.numbers[:2]}, [part.numbers[2]]))
        elif kind == "unknown":
            results.append(SendOutcomeUnknownError("lost", provider="eims"))
        else:
            results.append(InsufficientCreditError("poor", provider="eims", code="-10"))
    if "ok" not in outcomes:
        with pytest.raises((SendOutcomeUnknownError, InsufficientCreditError)) as info:
            merge_parts([p.numbers for p in parts], results)
        assert info.value is results[0]
        notes = getattr(info.value, "__notes__", [])
        others = len(parts) - 1  # each named, up to three, then how many more
        assert len(notes) == (others if others <= 3 else 4)
        assert others <= 3 or notes[-1] == f"aiosms: … and {others - 3} more parts"
        return
    merged = merge_parts([p.numbers for p in parts], results)
    ok = [p for p, kind in zip(parts, outcomes, strict=True) if kind == "ok"]
    assert merged.message_ids == {n: f"id-{n}" for p in ok for n in p.numbers[:2]}
    assert merged.sent == 2 * len(ok)
    assert merged.rejected == tuple(p.numbers[2] for p in ok)
    assert [f.numbers for f in merged.failed] == [
        p.numbers for p, kind in zip(parts, outcomes, strict=True) if kind != "ok"
    ]
    assert [f.outcome_unknown for f in merged.failed] == [
        k == "unknown" for k in outcomes if k != "ok"
    ]


# ---------------------------------------------------------------------------- fast readers


STAMP = st.one_of(
    st.just(0),
    st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
        lambda d: int(f"{d:%Y%m%d%H%M%S}")
    ),
    st.integers(10**13, 10**14 - 1),  # most are no date at all
)
CELL = st.one_of(st.integers(-5, 10**12), st.text("0123456789 +", max_size=12), st.none())


@FUZZ
@given(data=st.data(), count=st.integers(1, 30), width=st.sampled_from([4, 5]))
def test_the_fast_report_reader_reads_as_the_careful_one(
    data: st.DataObject, count: int, width: int
) -> None:
    from aiosms.eims.reports import _read_carefully, _read_fast, _Unusual

    # Columns mostly of one kind each (as the gateway writes them), now and then not.
    ints = st.integers(0, 10**12)
    texts = st.text("0123456789", min_size=1, max_size=12).map(lambda t: f" {t}")
    column = [data.draw(st.sampled_from([ints, ints, texts, texts, CELL])) for _ in range(2)]
    dates = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31))
    good_times = st.one_of(st.just(0), dates.map(lambda d: int(f"{d:%Y%m%d%H%M%S}")))
    times = data.draw(st.sampled_from([good_times] * 4 + [STAMP, CELL]))
    statuses = data.draw(
        st.sampled_from([st.sampled_from([0, 1, 2, 1011, 1023])] * 4 + [st.sampled_from([7, 1015])])
    )
    delivers = data.draw(st.sampled_from([st.sampled_from([0, 1, 2, 3, 4, 5])] * 4 + [CELL]))
    table = []
    for _ in range(count):
        row = [data.draw(column[0]), data.draw(column[1]), data.draw(times)]
        row += [data.draw(statuses), data.draw(delivers)]
        table.append(row[:width])
    body = reply(array=table)
    try:
        fast = _read_fast(json.loads(body)["array"], UTC)
    except (_Unusual, ValueError, TypeError):
        return  # the careful reader takes over: its own tests say what it does
    assert fast == _read_carefully(json.loads(body)["array"], body, UTC)


@FUZZ
@given(
    numbers=st.lists(NUMBER, min_size=1, max_size=30, unique=True),
    drop=st.sets(st.integers(0, 29)),
    ids_as=st.sampled_from(["int", "str", "mixed"]),
    order=st.randoms(use_true_random=False),
)
def test_the_fast_send_reader_reads_as_the_careful_one(
    numbers: list[str], drop: set[int], ids_as: str, order: Any
) -> None:
    from aiosms.eims import codec

    rows: list[Any] = []
    for i, number in enumerate(numbers):
        if i in drop:
            continue
        message_id: object = 500 + i
        if ids_as == "str" or (ids_as == "mixed" and i % 2):
            message_id = str(message_id)
        rows.append([int(number) if i % 3 else number, message_id])
    if order.random() < 0.5:
        order.shuffle(rows)
    body = reply(array=rows)
    fast = codec._read_ids(json.loads(body)["array"], tuple(numbers))
    ids, rejected = parse_send(body, numbers)
    if fast is not None:
        assert fast == ids
    assert ids == {n: str(500 + i) for i, n in enumerate(numbers) if i not in drop}
    assert rejected == [n for i, n in enumerate(numbers) if i in drop]


def test_an_id_with_spaces_around_it_is_refused() -> None:
    for bad in (" 12", "12 ", "1,2", "", 12):
        with pytest.raises(InvalidRequestError):
            build_report_requests([bad])  # type: ignore[list-item]
