"""aiosms.smscenter.codes and .push: the notification codes, the pure notification
parser, the URL to give SMSCenter, and the receiver (accept() and loopback HTTP), with
its `_OK_` answer given only once every subscriber has the report."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import aiohttp
import anyio
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiosms.webhooks as webhooks
from aiosms import DeliveryReport, DeliveryState, InvalidRequestError, ResponseFormatError
from aiosms._tracker import ChangeTracker
from aiosms.smscenter import codes
from aiosms.smscenter.codes import REASON_CODES, describe
from aiosms.smscenter.push import (
    DEFAULT_PARAMS,
    ISRAEL,
    TOKENS,
    SmsCenterPushParser,
    SmsCenterPushReceiver,
    notification_url,
    parse_notification,
    parse_notification_time,
)
from aiosms.webhooks import Answer, PushCall

S = DeliveryState
TOKEN = "smscenter-pushes.only~for-acme"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OK = Answer(200, "_OK_")


def call(**overrides: str) -> dict[str, str]:
    base = {
        "MsgID": "884422",
        "MSISDN": "972541234567",
        "StatusCode": "600",
        "StatusDes": "Delivered",
        "ReasonCode": "601",
        "ReasonDes": "Message delivered",
        "Dlr_ddmmyyyyhhmmss": "05032015142530",
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


# ------------------------------------------------------------------ the parser


def test_a_delivered_notification() -> None:
    report = parse_notification(call())
    assert report == DeliveryReport(
        "884422", None, "+972541234567", "", S.DELIVERED, "600",
        "Delivered: delivered to the mobile device (reason 601: Message delivered)",
        None, None, (), datetime(2015, 3, 5, 14, 25, 30, tzinfo=ISRAEL),
        {"reason_code": "601", "reason": "Message delivered", "status_description": "Delivered"},
    )  # fmt: skip
    assert report.reported_at is not None
    assert report.reported_at.utcoffset() is not None  # aware, Israel time (+02:00 in March)
    assert report.reported_at.isoformat() == "2015-03-05T14:25:30+02:00"
    hash(report)  # hashable, for the receiver's backlog


def test_summer_time_and_the_other_date_spelling() -> None:
    report = parse_notification(
        {
            "msgid": "1",
            "msisdn": "0541234567",
            "STATUSCODE": "700",
            "ReasonCode": "701",
            "Dlr_ddmmyyyhhmmss": "15072021083000",
        }
    )
    assert report.state is S.EXPIRED
    assert report.mobile == "+972541234567"
    assert report.reported_at is not None
    assert report.reported_at.isoformat() == "2021-07-15T08:30:00+03:00"
    assert report.details == {"reason_code": "701"}


@pytest.mark.parametrize(
    ("msisdn", "mobile"),
    [
        ("972541234567", "+972541234567"),
        ("+972541234567", "+972541234567"),
        ("0541234567", "+972541234567"),
        ("054-1234567", "+972541234567"),
        ("447700900123", "447700900123"),  # not Israeli: as given
        ("+12025550123", "+12025550123"),
        ("05412", "05412"),  # too short to be Israeli
    ],
)
def test_israeli_numbers_are_normalized_others_kept(msisdn: str, mobile: str) -> None:
    assert parse_notification(call(MSISDN=msisdn)).mobile == mobile


def test_reason_999_carries_the_providers_words_and_optional_fields_may_be_missing() -> None:
    report = parse_notification(call(StatusCode="700", ReasonCode="999", ReasonDes="Absent"))
    assert report.description.endswith(": Absent")
    bare = parse_notification({"MsgID": "7", "MSISDN": "0541234567", "StatusCode": "300"})
    assert (bare.state, bare.reported_at, bare.details) == (S.ACCEPTED, None, {})
    empty = parse_notification(call(ReasonCode="", ReasonDes="", StatusDes="",
                                    Dlr_ddmmyyyyhhmmss=""))  # fmt: skip
    assert (empty.reported_at, empty.details) == (None, {})


def test_unknown_codes_are_kept_raw() -> None:
    report = parse_notification(call(StatusCode="800", ReasonCode="801"))
    assert (report.state, report.status, report.details["reason_code"]) == (S.UNKNOWN, "800", "801")


def test_params_map_other_names_to_the_tokens() -> None:
    # The spec's own sample URL: ?MSISDN={MSISDN}&MessageID={MsgID}&Date={Dlr_ddmmyyyhhmmss}
    # &Status={StatusDes}&StatusCode={StatusCode}&Description=…&DescriptionCode=…
    params = {"MsgID": "MessageID", "{Dlr_ddmmyyyhhmmss}": "Date", "StatusDes": "Status",
              "ReasonDes": "Description", "ReasonCode": "DescriptionCode"}  # fmt: skip
    query = {"MSISDN": "0541234567", "MessageID": "55", "Date": "01012020000000",
             "Status": "Delivered", "StatusCode": "600", "Description": "ok",
             "DescriptionCode": "601", "MsgID": "ignored: not a name any more"}  # fmt: skip
    report = parse_notification(query, params=params)
    assert (report.batch_id, report.state) == ("55", S.DELIVERED)
    assert report.details == {
        "reason_code": "601",
        "reason": "ok",
        "status_description": "Delivered",
    }
    assert SmsCenterPushParser(params=params).parse(PushCall("GET", query)) == [report]


@pytest.mark.parametrize(
    "params",
    [{"Nope": "x"}, {"MsgID": ""}, {"MsgID": "MSISDN"}, {"MsgID": "token"}, {"MsgID": 5},
     {"MsgID": "a\nb"}],
)  # fmt: skip
def test_bad_params_are_refused(params: Any) -> None:
    with pytest.raises(InvalidRequestError, match="params"):
        parse_notification(call(), params=params)
    with pytest.raises(InvalidRequestError):
        SmsCenterPushReceiver(token=TOKEN, params=params)


@pytest.mark.parametrize(
    "query",
    [
        call(MsgID=None),
        call(MsgID=""),
        call(MSISDN=None),
        call(MSISDN="   "),
        call(StatusCode=None),
        call(StatusCode="OK"),
        call(StatusCode="6OO"),
        call(StatusCode="-600"),
        call(StatusCode="٦٠٠"),  # Arabic-Indic digits: isdigit(), not ASCII
        call(ReasonCode="x"),
        call(Dlr_ddmmyyyyhhmmss="2015-03-05"),
        call(Dlr_ddmmyyyyhhmmss="32132015142530"),
        call(Dlr_ddmmyyyyhhmmss="0503201514253"),
        call(MsgID="1" * 65),
        call(StatusDes="x" * 1001),
        call(StatusCode="9" * 5000),
        call(MsgID="12\x0034"),
        {**call(), "msgid": "another"},  # the same token twice, differently
        {**call(), **{f"p{i}": "" for i in range(100)}},
        {**call(), "MSISDN": ["0541234567"]},
    ],
)
def test_malformed_notifications_are_refused(query: Any) -> None:
    with pytest.raises(ResponseFormatError):
        parse_notification(query)


def test_the_same_token_twice_alike_and_unknown_parameters_are_fine() -> None:
    query = {**call(), "msgid": "884422", "account": "acme", "x" * 5000: "y"}
    assert parse_notification(query) == parse_notification(call())


@PROPS
@given(st.dictionaries(st.text(max_size=25), st.text(max_size=30), max_size=12))
def test_any_query_is_parsed_or_refused_never_a_crash(query: dict[str, str]) -> None:
    try:
        report = parse_notification(query)
    except ResponseFormatError:
        return
    assert report.batch_id
    assert report.status.isdigit()


# Valid notifications, and what each must parse to.
ISRAELI = st.from_regex(r"5[0-9]{8}", fullmatch=True)
FORMS = st.sampled_from(["972{}", "+972{}", "0{}"])
FOREIGN = st.from_regex(r"\+?(1|44|886)[0-9]{8,10}", fullmatch=True)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
STATUS = st.one_of(
    st.sampled_from(sorted(codes.STATUS_CODES)), st.from_regex(r"[0-9]{1,6}", fullmatch=True)
)
REASON = st.one_of(st.just(""), st.sampled_from(sorted(REASON_CODES)),
                   st.from_regex(r"[0-9]{1,6}", fullmatch=True))  # fmt: skip


@st.composite
def notifications(draw: st.DrawFn) -> tuple[dict[str, str], DeliveryReport]:
    if draw(st.booleans()):
        national = draw(ISRAELI)
        msisdn, mobile = draw(FORMS).format(national), "+972" + national
    else:
        msisdn = mobile = draw(FOREIGN)
    msg_id = draw(st.from_regex(r"[0-9]{1,18}", fullmatch=True))
    status, reason = draw(STATUS), draw(REASON)
    status_des, reason_des = draw(TEXT), draw(TEXT)
    when = draw(st.none() | WHEN.map(lambda w: w.replace(microsecond=0)))
    values = {
        "MsgID": msg_id,
        "MSISDN": msisdn,
        "StatusCode": status,
        "StatusDes": status_des,
        "ReasonCode": reason,
        "ReasonDes": reason_des,
        "Dlr_ddmmyyyyhhmmss": "" if when is None else when.strftime("%d%m%Y%H%M%S"),
    }
    # Any letter case of the names; a missing optional field is like an empty one.
    query = {}
    for name, value in values.items():
        if not value and name not in ("MsgID", "MSISDN", "StatusCode") and draw(st.booleans()):
            continue
        query[draw(st.sampled_from([name, name.lower(), name.upper()]))] = value
    state, description = describe(status, reason or None)
    if reason.lstrip("0") == "999" and reason_des.strip():
        description += f": {reason_des.strip()}"
    details = {"reason_code": reason, "reason": reason_des.strip(),
               "status_description": status_des.strip()}  # fmt: skip
    expected = DeliveryReport(
        msg_id, None, mobile, "", state, status, description, None, None, (),
        None if when is None else when.replace(tzinfo=ISRAEL),
        {k: v for k, v in details.items() if v},
    )  # fmt: skip
    return query, expected


@PROPS
@given(notifications())
def test_round_trip_any_valid_notification(case: tuple[dict[str, str], DeliveryReport]) -> None:
    query, expected = case
    report = parse_notification(query)
    assert report == expected
    assert report.reported_at is None or report.reported_at.tzinfo is ISRAEL


@PROPS
@given(notifications())
def test_round_trip_through_the_notification_url(
    case: tuple[dict[str, str], DeliveryReport],
) -> None:
    """Fill the URL template as SMSCenter does (each value percent-encoded), read its
    query back as a server would, and parse it."""
    query, expected = case
    values = {name.casefold(): value for name, value in query.items()}
    url = notification_url("https://you.example/sms/push", token=TOKEN)
    for token in TOKENS:
        url = url.replace("{" + token + "}", quote(values.get(token.casefold(), ""), safe=""))
    received = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    assert received.pop("token") == TOKEN
    assert parse_notification(received) == expected


def test_parse_notification_time() -> None:
    assert parse_notification_time("") is None
    assert parse_notification_time("29022024235959") == datetime(2024, 2, 29, 23, 59, 59,
                                                                 tzinfo=ISRAEL)  # fmt: skip
    for bad in ("29022023000000", "00012020000000", "01012020240000", "0101202000000x"):
        with pytest.raises(ResponseFormatError):
            parse_notification_time(bad)


# ------------------------------------------------------------------ the URL


def test_notification_url() -> None:
    assert notification_url("https://you.example/sms/push", token=TOKEN) == (
        "https://you.example/sms/push?MsgID={MsgID}&MSISDN={MSISDN}&StatusCode={StatusCode}"
        "&StatusDes={StatusDes}&ReasonCode={ReasonCode}&ReasonDes={ReasonDes}"
        f"&Dlr_ddmmyyyyhhmmss={{Dlr_ddmmyyyyhhmmss}}&token={TOKEN}"
    )
    url = notification_url("http://127.0.0.1:8080/p?acct=a%20b", params={"MsgID": "מזהה הודעה"})
    assert url.startswith("http://127.0.0.1:8080/p?acct=a%20b&%D7%9E%D7%96%D7%94%D7%94%20")
    assert url.endswith("={Dlr_ddmmyyyyhhmmss}")
    assert "token" not in url
    assert notification_url("https://x.example/?", token=TOKEN).startswith(
        "https://x.example/?MsgID="
    )


def test_notification_url_may_leave_the_descriptions_out() -> None:
    codes_only = [t for t in TOKENS if not t.endswith("Des")]
    url = notification_url("https://x.example/p", tokens=codes_only)
    assert "Des" not in url
    assert url.endswith("&ReasonCode={ReasonCode}&Dlr_ddmmyyyyhhmmss={Dlr_ddmmyyyyhhmmss}")
    receiver = SmsCenterPushReceiver(token=TOKEN)
    assert receiver.notification_url("https://x.example/p", tokens=codes_only) == (
        notification_url("https://x.example/p", token=TOKEN, tokens=codes_only)
    )
    for too_few in (["MsgID", "MSISDN"], "MsgID", ["MsgID", "MSISDN", "StatusCode", "Nope"]):
        with pytest.raises(InvalidRequestError):
            notification_url("https://x.example/p", tokens=too_few)


@pytest.mark.parametrize(
    ("base", "token"),
    [("ftp://x.example/p", None), ("/relative/path", None), ("https://x.example/p#frag", None),
     ("https://x.example/p", "short"), ("https://x.example/p", "has space in it, long enough")],
)  # fmt: skip
def test_notification_url_refuses_bad_input(base: str, token: str | None) -> None:
    with pytest.raises(InvalidRequestError):
        notification_url(base, token=token)


def test_the_receiver_writes_its_own_url() -> None:
    params = {"MsgID": "MessageID"}
    receiver = SmsCenterPushReceiver(token=TOKEN, params=params)
    assert receiver.notification_url("https://you.example/p") == notification_url(
        "https://you.example/p", token=TOKEN, params=params
    )
    assert receiver.params["MsgID"] == "MessageID"
    assert receiver.params["MSISDN"] == "MSISDN"
    assert "MessageID={MsgID}" in receiver.notification_url("https://you.example/p")
    assert DEFAULT_PARAMS["MsgID"] == "MsgID"


# ------------------------------------------------------------------ the receiver


def test_the_receiver_is_exported_lazily_by_webhooks() -> None:
    assert webhooks.SmsCenterPushReceiver is SmsCenterPushReceiver
    assert "SmsCenterPushReceiver" in webhooks.__all__
    assert "SmsCenterPushReceiver" in (webhooks.__doc__ or "")
    parser = SmsCenterPushReceiver(token=TOKEN).parser
    assert (parser.provider, tuple(parser.methods), parser.success) == ("smscenter", ("GET",), OK)


async def test_accept_answers_ok_and_duplicates_reach_a_watch_once() -> None:
    receiver = SmsCenterPushReceiver(token=TOKEN)
    async with receiver.subscribe(["884422"]) as events:
        for _ in range(2):  # SMSCenter repeats a call it saw fail
            assert await receiver.accept("GET", {**call(), "token": TOKEN}) == OK
        with anyio.fail_after(2):
            first, second = await events.receive(), await events.receive()
    assert first == second == parse_notification(call())
    tracker = ChangeTracker()  # what watch(push=receiver) runs the events through
    changes = [c for c in (tracker.push(first), tracker.push(second)) if c is not None]
    assert [c.state for c in changes] == [S.DELIVERED]
    # The backlog is an ordered set: a later subscription gets the report once.
    async with receiver.subscribe() as late:
        assert late.receive_nowait() == first
        with pytest.raises(anyio.WouldBlock):
            late.receive_nowait()
    assert (receiver.received, receiver.refused) == (2, 0)


@pytest.mark.parametrize(
    ("params", "path", "peer"),
    [
        ({}, "", "127.0.0.1"),
        ({"token": "wrong-token-0123456789"}, "", "127.0.0.1"),
        ({"token": TOKEN[:-1]}, "", "127.0.0.1"),
        ({}, f"/sms/push/{TOKEN}x", "127.0.0.1"),
        ({"token": TOKEN}, "", "10.9.9.9"),  # outside allow_from
        ({"token": TOKEN}, "", None),
    ],
)
async def test_unauthenticated_calls_get_403_and_no_ok(
    params: dict[str, str], path: str, peer: str | None
) -> None:
    receiver = SmsCenterPushReceiver(token=TOKEN, allow_from=["127.0.0.0/8"])
    async with receiver.subscribe() as events:
        answer = await receiver.accept("GET", {**call(), **params}, path=path, peer=peer)
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert answer.status == 403
    assert "_ok_" not in answer.body.lower()
    ok = await receiver.accept("GET", call(), path=f"/sms/push/{TOKEN}", peer="127.0.0.1")
    assert ok == OK


async def test_malformed_calls_get_400_and_never_ok_even_when_they_echo_it() -> None:
    receiver = SmsCenterPushReceiver(token=TOKEN, allow_from=["127.0.0.0/8"])
    answers = [
        await receiver.accept("GET", {**call(StatusCode="_OK_"), "token": TOKEN}, peer="127.0.0.1"),
        await receiver.accept(
            "GET", {**call(ReasonCode="x_ok_x"), "token": TOKEN}, peer="127.0.0.1"
        ),
        await receiver.accept("GET", {**call(MsgID=None), "token": TOKEN}, peer="127.0.0.1"),
        await receiver.accept("POST", {**call(), "token": TOKEN}, peer="127.0.0.1"),
        await receiver.accept("_oK_", {**call(), "token": TOKEN}, peer="127.0.0.1"),
        await receiver.accept("GET", {**call(), "token": TOKEN}, peer="_OK_"),
    ]
    assert [a.status for a in answers] == [400, 400, 400, 405, 405, 403]
    for answer in answers:
        assert "_ok_" not in answer.body.lower(), answer
    assert "StatusCode" in answers[0].body  # still says what was wrong
    assert receiver.refused == 6


@PROPS
@given(
    text=st.lists(
        st.sampled_from(["_", "O", "K", "o", "k", "_OK_", "x", "*", " "]), max_size=30
    ).map("".join),
    mark=st.sampled_from(["_OK_", "OK", "aa", "*#?~", "_ok_"]) | st.text(min_size=1, max_size=4),
    any_case=st.booleans(),
)
def test_a_refusal_can_never_carry_the_success_marker(text: str, mark: str, any_case: bool) -> None:
    """The seam in webhooks: whatever a call echoes, the marker cannot survive or re-form
    (``_O_OK_K_`` must not become ``_OK_``)."""
    cleaned = webhooks._unmarked(text, mark, any_case=any_case)
    if any_case:
        assert re.search(re.escape(mark), cleaned, re.IGNORECASE) is None
    else:
        assert mark not in cleaned
    if re.search(re.escape(mark), text, re.IGNORECASE if any_case else 0) is None:
        assert cleaned == text  # untouched when there is nothing to hide


async def test_ok_only_once_every_subscriber_has_the_report() -> None:
    receiver = SmsCenterPushReceiver(token=TOKEN, buffer=1)
    delivered = {**call(MSISDN="0541234567"), "token": TOKEN}
    failed = {**call(MSISDN="0521234567", StatusCode="700", ReasonCode="703"), "token": TOKEN}
    async with receiver.subscribe() as everything, receiver.subscribe(["884422"]) as batch:
        assert await receiver.accept("GET", delivered) == OK
        everything.receive_nowait()  # one keeps up, the other is full
        full = await receiver.accept("GET", failed)
        assert full.status == 503
        assert "_OK_" not in full.body
        with pytest.raises(anyio.WouldBlock):
            everything.receive_nowait()  # withheld from both: a retry is no duplicate
        assert batch.receive_nowait().mobile == "+972541234567"
        assert await receiver.accept("GET", failed) == OK  # SMSCenter's retry
        assert everything.receive_nowait() == batch.receive_nowait()
    assert (receiver.received, receiver.refused) == (2, 1)


# ------------------------------------------------------------------ loopback HTTP


@contextlib.asynccontextmanager
async def serving(receiver: SmsCenterPushReceiver) -> AsyncIterator[str]:
    """The receiver at ``/sms/push`` of an aiohttp server on loopback; yields that URL."""
    app = web.Application()
    receiver.add_to(app, "/sms/push")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/sms/push"
    finally:
        await runner.cleanup()


def filled(template: str, values: dict[str, str]) -> str:
    for token in TOKENS:
        template = template.replace("{" + token + "}", quote(values.get(token, ""), safe=""))
    return template


async def test_over_loopback_http() -> None:
    receiver = SmsCenterPushReceiver(token=TOKEN, allow_from=["127.0.0.1/32"], buffer=1)
    hebrew = call(StatusCode="700", ReasonCode="999", ReasonDes="המנוי אינו זמין / absent")
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        serving(receiver) as base,
        aiohttp.ClientSession(timeout=timeout) as http,
        receiver.subscribe(["884422"]) as events,
    ):
        url = receiver.notification_url(base)
        async with http.get(filled(url, hebrew)) as resp:
            assert (resp.status, await resp.text()) == (200, "_OK_")
        # The subscriber is full: withheld, and no _OK_ (SMSCenter calls again).
        async with http.get(filled(url, call(MSISDN="0521234567"))) as resp:
            assert resp.status == 503
            assert "_OK_" not in await resp.text()
        report = events.receive_nowait()
        assert report == parse_notification(hebrew)
        assert report.details["reason"] == "המנוי אינו זמין / absent"
        async with http.get(filled(url.replace(TOKEN, "x" * 20), call())) as resp:
            assert resp.status == 403
            assert "_OK_" not in await resp.text()
        async with http.get(filled(url, call(StatusCode="_OK_"))) as resp:
            assert resp.status == 400
            assert "_ok_" not in (await resp.text()).lower()
        async with http.post(filled(url, call())) as resp:
            assert resp.status == 405  # aiohttp's own: only GET is routed
            assert "_OK_" not in await resp.text()
        # The token as the path's last segment works too.
        plain = notification_url(f"{base}/{TOKEN}")
        async with http.get(filled(plain, call(MSISDN="0521234567"))) as resp:
            assert (resp.status, await resp.text()) == (200, "_OK_")
        assert events.receive_nowait().mobile == "+972521234567"
    assert (receiver.received, receiver.refused) == (2, 3)
