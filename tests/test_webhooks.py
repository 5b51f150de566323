"""EVERY8D push callbacks (SOAP spec §3.1, HTTP API §2.1): the pure parser, the receiver
over loopback HTTP (tokens in the query and in the path), the simulator's pushes, and
watch() merging pushed and polled reports. The framework-free accept() and the shared
receiver's rules are in test_webhooks_accept.py."""

from __future__ import annotations

import contextlib
import string
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import anyio
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aiosms
from aiosms import DeliveryReport, DeliveryState, Reply, ResponseFormatError
from aiosms.every8d._common import TAIPEI
from aiosms.every8d.push import Every8dPushParser, parse_push, parse_push_time, push_params
from aiosms.models import Details
from aiosms.testing import Simulator
from aiosms.webhooks import Every8dPushReceiver, ForeignCallError, PushCall

USER, PASSWORD = "acme", "s3cret"
BATCH = "220478cc-8506-49b2-93b7-2505f651c12e"
TOKEN = "k7Qx2-pushes_only.for~acme"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def query(**overrides: str) -> dict[str, str]:
    base = {
        "BatchID": BATCH,
        "RM": "+886961295288",
        "RT": "20090210120000",
        "STATUS": "100",
        "SM": "",
        "MR": "",
        "USERID": USER,
    }
    return {**base, **overrides}


# ------------------------------------------------------------------ the parser


def test_parse_push_status_report() -> None:
    report = parse_push(query(MR="17"))
    assert isinstance(report, DeliveryReport)
    assert (report.batch_id, report.mobile, report.status) == (BATCH, "+886961295288", "100")
    assert report.state is DeliveryState.DELIVERED
    assert report.message_id == "17"
    assert report.reported_at == datetime(2009, 2, 10, 12, 0, 0, tzinfo=TAIPEI)
    assert (report.sent_at, report.cost, report.replies) == (None, None, ())


def test_parse_push_reply() -> None:
    reply = parse_push(query(STATUS="999", SM="好的，謝謝"))
    assert reply == Reply(
        "+886961295288",
        "好的，謝謝",
        datetime(2009, 2, 10, 12, 0, 0, tzinfo=TAIPEI),
        None,
        BATCH,
    )


def test_parse_push_unknown_status_is_unknown_not_an_error() -> None:
    report = parse_push(query(STATUS="4242"))
    assert isinstance(report, DeliveryReport)
    assert report.state is DeliveryState.UNKNOWN


@pytest.mark.parametrize(
    "bad",
    [
        {"BatchID": ""},
        {"RM": " "},
        {"STATUS": ""},
        {"STATUS": "1OO"},
        {"STATUS": "1234567"},
        {"RT": "2009021012"},
        {"RT": "20091310120000"},
        {"RT": "２００９０２１０１２００００"},
        {"SM": "x" * 2001},
    ],
)
def test_parse_push_refuses_malformed_calls(bad: dict[str, str]) -> None:
    with pytest.raises(ResponseFormatError):
        parse_push(query(**bad))


def test_parse_push_refuses_missing_parameters() -> None:
    params = query()
    del params["STATUS"]
    with pytest.raises(ResponseFormatError, match="STATUS"):
        parse_push(params)


TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)


@PROPS
@given(
    batch=TEXT.filter(str.strip),
    mobile=TEXT.filter(str.strip),
    status=st.sampled_from(["0", "100", "101", "107", "300", "303", "999", "-3", "12345"]),
    text=TEXT,
    record=TEXT,
    at=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
)
def test_parse_push_round_trips(
    batch: str, mobile: str, status: str, text: str, record: str, at: datetime
) -> None:
    event = parse_push(
        query(BatchID=batch, RM=mobile, STATUS=status, SM=text, MR=record, RT=f"{at:%Y%m%d%H%M%S}")
    )
    assert (event.batch_id, event.mobile, event.message_id) == (
        batch.strip(),
        mobile.strip(),
        record.strip() or None,
    )
    when = at.replace(microsecond=0, tzinfo=TAIPEI)
    if status == "999":
        assert isinstance(event, Reply)
        assert (event.text, event.received_at) == (text.strip(), when)
    else:
        assert isinstance(event, DeliveryReport)
        assert (event.status, event.reported_at) == (status, when)


@PROPS
@given(params=st.dictionaries(st.sampled_from(list(query())), st.text(max_size=40)))
def test_parse_push_never_crashes(params: dict[str, str]) -> None:
    with contextlib.suppress(ResponseFormatError):  # a typed error, or an event
        event = parse_push(params)
        assert isinstance(event, DeliveryReport | Reply)


def test_parse_push_time() -> None:
    assert parse_push_time("") is None
    assert parse_push_time(" 20261123235959 ") == datetime(2026, 11, 23, 23, 59, 59, tzinfo=TAIPEI)
    with pytest.raises(ResponseFormatError):
        parse_push_time("20261123246000")


def http_api_query(**overrides: str) -> dict[str, str]:
    """A callback as the HTTP API's §2.1 lists it: BATCHID upper-case, no USERID."""
    base = {"BATCHID": BATCH, "RM": "+886961295288", "RT": "20090210120000", "STATUS": "100"}
    return {**base, "SM": "", "MR": "", **overrides}


def test_parse_push_reads_the_http_api_callback() -> None:
    assert parse_push(http_api_query()) == parse_push(query())
    reply = parse_push(http_api_query(STATUS="999", SM="收到"))
    assert isinstance(reply, Reply)
    assert (reply.batch_id, reply.text) == (BATCH, "收到")


def test_parse_push_keeps_extras_in_details() -> None:
    params = query(CustID="A-17", NAME=" Roger ", SOURCE="web", CHARGE="1", token="not kept")
    report = parse_push(params)
    assert report.details == {"CustID": "A-17", "NAME": " Roger ", "SOURCE": "web", "CHARGE": "1"}
    assert isinstance(report.details, Details)
    hash(report)  # still hashable, so the receiver's backlog can keep it
    reply = parse_push({**params, "STATUS": "999", "SM": "ok"})
    assert isinstance(reply, Reply)
    assert reply.details["CustID"] == "A-17"
    assert parse_push(query()).details is Details()  # no extras: the shared empty one


def test_parse_push_bounds_the_extras() -> None:
    many = {f"X{i}": "v" for i in range(50)}
    assert len(parse_push(query(**many)).details) == 50
    with pytest.raises(ResponseFormatError, match="more than 50"):
        parse_push(query(**many, X50="v"))
    with pytest.raises(ResponseFormatError, match="short text"):
        parse_push(query(CustID="x" * 2001))
    with pytest.raises(ResponseFormatError, match="name"):
        parse_push(query(**{"N" * 101: "v"}))


def test_parse_push_refuses_a_parameter_given_twice_differently() -> None:
    assert parse_push({**query(), "BATCHID": BATCH}).batch_id == BATCH  # the same: fine
    with pytest.raises(ResponseFormatError, match="BatchID given twice"):
        parse_push({**query(), "BATCHID": "another"})


def test_parse_push_names_are_ascii_case_insensitive_only() -> None:
    # "ı" (dotless i) upper-cases to "I"; it must not pass for BatchID.
    with pytest.raises(ResponseFormatError, match="without BatchID"):
        parse_push({k: v for k, v in query(batchıd=BATCH).items() if k != "BatchID"})


KNOWN = ["BatchID", "RM", "RT", "STATUS", "SM", "MR", "USERID"]
EXTRA_NAMES = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12).filter(
    lambda n: n.upper() not in {k.upper() for k in KNOWN} | {"TOKEN"}
)


def any_case(name: str) -> st.SearchStrategy[str]:
    flips = st.lists(st.booleans(), min_size=len(name), max_size=len(name))
    return flips.map(
        lambda up: "".join(c.upper() if u else c.lower() for c, u in zip(name, up, strict=True))
    )


@PROPS
@given(
    spelled=st.fixed_dictionaries({name: any_case(name) for name in KNOWN}),
    batch=TEXT.filter(str.strip),
    mobile=TEXT.filter(str.strip),
    status=st.sampled_from(["0", "100", "107", "303", "999", "-3"]),
    text=TEXT,
    extras=st.dictionaries(EXTRA_NAMES, TEXT, max_size=6),
    post=st.booleans(),
)
def test_parser_round_trips_any_case_and_extras(
    spelled: dict[str, str],
    batch: str,
    mobile: str,
    status: str,
    text: str,
    extras: dict[str, str],
    post: bool,
) -> None:
    values = dict(
        zip(KNOWN, [batch, mobile, "20090210120000", status, text, "7", USER], strict=True)
    )
    params = {spelled[k]: v for k, v in values.items()} | extras
    if post:  # the form in the body, as EVERY8D's POST would send it
        body = urlencode(params).encode()
        call = PushCall("POST", {}, body, {"content-type": "application/x-www-form-urlencoded"})
    else:
        call = PushCall("GET", params)
    [event] = Every8dPushParser(user_id=USER).parse(call)
    assert event == parse_push(params)
    assert (event.batch_id, event.mobile, event.message_id) == (batch.strip(), mobile.strip(), "7")
    assert event.details == extras
    assert isinstance(event, Reply if status == "999" else DeliveryReport)


NAME = st.one_of(st.sampled_from(KNOWN).flatmap(any_case), st.sampled_from(["token"]), TEXT)


@PROPS
@given(params=st.dictionaries(NAME, st.text(max_size=40), max_size=12))
def test_parse_push_never_crashes_on_any_names(params: dict[str, str]) -> None:
    with contextlib.suppress(ResponseFormatError):
        event = parse_push(params)
        assert isinstance(event, DeliveryReport | Reply)
        assert "token" not in event.details


@PROPS
@given(
    body=st.binary(max_size=200) | st.text(max_size=80).map(str.encode),
    media=st.sampled_from(
        [
            "",
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=big5",
            "application/x-www-form-urlencoded; charset=nonsense",
            "multipart/form-data; boundary=x",
            "application/json",
        ]
    ),
)
def test_parser_never_crashes_on_any_body(body: bytes, media: str) -> None:
    call = PushCall("POST", query(), body, {"content-type": media})
    with contextlib.suppress(ResponseFormatError):  # a typed error, or one event
        [event] = Every8dPushParser().parse(call)
        assert isinstance(event, DeliveryReport | Reply)


def test_push_params_reads_forms_only() -> None:
    form = urlencode({"STATUS": "101", "SM": "好"}).encode()
    assert push_params(PushCall("POST", query(), form))["STATUS"] == "101"  # the form wins
    big5 = urlencode({"SM": "好"}, encoding="big5").encode()
    call = PushCall(
        "POST", {}, big5, {"content-type": "application/x-www-form-urlencoded; charset=big5"}
    )
    assert push_params(call) == {"SM": "好"}
    assert push_params(PushCall("GET", query(), form)) == query()  # a GET's body is ignored
    for media in ("multipart/form-data; boundary=x", "application/json"):
        with pytest.raises(ResponseFormatError, match="urlencoded"):
            push_params(PushCall("POST", {}, b"{}", {"content-type": media}))
    with pytest.raises(ResponseFormatError, match="unreadable"):
        push_params(PushCall("POST", {}, b"SM=%FF"))  # not UTF-8
    with pytest.raises(ResponseFormatError, match="unreadable"):
        push_params(PushCall("POST", {}, b"&".join(b"X%d=1" % i for i in range(60))))


def test_parser_refuses_calls_for_another_account_only_when_they_say_so() -> None:
    parser = Every8dPushParser(user_id=USER)
    assert parser.parse(PushCall("GET", query())) == [parse_push(query())]
    with pytest.raises(ForeignCallError, match="mallory"):
        parser.parse(PushCall("GET", query(USERID="mallory")))
    # The HTTP API sends no USERID: such calls are accepted (authenticate with a token).
    assert parser.parse(PushCall("GET", http_api_query())) == [parse_push(http_api_query())]
    assert Every8dPushParser().parse(PushCall("GET", query(USERID="mallory")))


# ------------------------------------------------------------------ the receiver


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 and a free port; yield its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def served() -> AsyncIterator[tuple[Every8dPushReceiver, str]]:
    receiver = Every8dPushReceiver(user_id=USER, buffer=2)
    app = web.Application()
    receiver.add_to(app, "/every8d/push")
    async with serve(app) as url:
        yield receiver, f"{url}/every8d/push"


async def call(url: str, params: dict[str, str], method: str = "GET") -> int:
    async with aiohttp.ClientSession() as session:
        if method == "GET":
            async with session.get(url, params=params) as resp:
                return resp.status
        async with session.post(url, data=params) as resp:
            return resp.status


async def test_receiver_hands_calls_to_subscribers(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served
    async with receiver.subscribe([BATCH]) as events:
        assert await call(url, query(STATUS="0")) == 200
        assert await call(url, query(STATUS="999", SM="yes"), method="POST") == 200
        assert await call(url, query(BatchID="another batch")) == 200
        with anyio.fail_after(5):
            first, second = await events.receive(), await events.receive()
        assert isinstance(first, DeliveryReport)
        assert first.state is DeliveryState.ACCEPTED
        assert isinstance(second, Reply)
        assert second.text == "yes"
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()  # the other batch's call went elsewhere
    assert receiver.received == 3


async def test_receiver_refuses_bad_and_foreign_calls(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served
    assert await call(url, query(STATUS="")) == 400
    assert await call(url, query(USERID="mallory")) == 403
    assert (receiver.received, receiver.refused) == (0, 2)


async def test_receiver_answers_503_when_a_subscriber_is_full_and_then_recovers(
    served: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = served  # buffer=2
    async with receiver.subscribe() as events:
        assert await call(url, query(RM="+886900000001")) == 200
        assert await call(url, query(RM="+886900000002")) == 200
        # Full: refused, so EVERY8D calls again later; nothing is lost.
        assert await call(url, query(RM="+886900000003")) == 503
        assert events.receive_nowait().mobile == "+886900000001"
        assert await call(url, query(RM="+886900000003")) == 200
        mobiles = [events.receive_nowait().mobile for _ in range(2)]
        assert mobiles == ["+886900000002", "+886900000003"]


async def test_subscriptions_replay_the_backlog_once_each() -> None:
    receiver = Every8dPushReceiver(backlog=3)
    early = [parse_push(query(RM=f"+8869000000{i:02d}")) for i in range(5)]
    for event in early:
        assert receiver.deliver(event)
    assert receiver.deliver(early[-1])  # a repeated call is kept once
    async with receiver.subscribe([BATCH]) as events:
        replayed = [events.receive_nowait() for _ in range(3)]
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert replayed == early[2:]  # the oldest fell out of the bounded backlog


def test_receiver_checks_its_options() -> None:
    with pytest.raises(ValueError, match="buffer"):
        Every8dPushReceiver(buffer=0)


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[Every8dPushReceiver, str]]:
    receiver = Every8dPushReceiver(user_id=USER, token=TOKEN)
    app = web.Application()
    receiver.add_to(app, "/every8d/push")
    async with serve(app) as url:
        yield receiver, f"{url}/every8d/push"


async def test_token_in_the_query_or_as_the_last_path_segment(
    guarded: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = guarded
    async with receiver.subscribe([BATCH]) as events:
        assert await call(url, query(token=TOKEN, RM="+886900000001")) == 200
        assert await call(f"{url}/{TOKEN}", query(RM="+886900000002")) == 200
        assert await call(f"{url}/{TOKEN}", query(RM="+886900000003"), method="POST") == 200
        assert await call(url, {**http_api_query(RM="+886900000004"), "token": TOKEN}) == 200
        got = [events.receive_nowait() for _ in range(4)]
    assert [e.mobile for e in got] == [f"+88690000000{i}" for i in range(1, 5)]
    assert all(e.details is Details() for e in got)  # the token is not an extra
    assert (receiver.received, receiver.refused) == (4, 0)


async def test_calls_without_the_right_token_are_refused(
    guarded: tuple[Every8dPushReceiver, str],
) -> None:
    receiver, url = guarded
    async with receiver.subscribe() as events:
        assert await call(url, query()) == 403
        assert await call(url, query(token=TOKEN[:-1])) == 403
        assert await call(f"{url}/{TOKEN[:-1]}x", query()) == 403
        assert await call(f"{url}/{TOKEN}", query(token="wrong")) == 403  # the query's counts
        assert await call(f"{url}/{TOKEN}", query(STATUS="")) == 400  # past the token
        assert await call(f"{url}/{TOKEN}", query(USERID="mallory")) == 403
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert (receiver.received, receiver.refused) == (0, 6)


async def test_allow_from_is_checked_against_the_peer() -> None:
    outside = Every8dPushReceiver(token=TOKEN, allow_from=["203.0.113.0/24"])
    inside = Every8dPushReceiver(token=TOKEN, allow_from=["203.0.113.0/24", "127.0.0.1/32"])
    app = web.Application()
    outside.add_to(app, "/outside")
    inside.add_to(app, "/inside")
    async with serve(app) as url:
        assert await call(f"{url}/outside/{TOKEN}", query()) == 403
        assert await call(f"{url}/inside/{TOKEN}", query()) == 200
    assert (outside.refused, inside.received) == (1, 1)


# ------------------------------------------------------------------ the simulator and watch()


@pytest.fixture
async def pushing() -> AsyncIterator[tuple[Simulator, Every8dPushReceiver]]:
    receiver = Every8dPushReceiver(user_id=USER)
    app = web.Application()
    receiver.add_to(app, "/push")
    async with serve(app) as url, Simulator(delivery_time=0.05, push_interval=0.01) as sim:
        sim.every8d.add_account(USER, PASSWORD, credit=Decimal(100))
        sim.every8d.push_url = f"{url}/push"
        yield sim, receiver


async def test_watch_takes_pushed_changes_between_rare_polls(
    pushing: tuple[Simulator, Every8dPushReceiver],
) -> None:
    sim, receiver = pushing
    numbers = ["+886912345670", "+886912345677", "+886912345678", "+886912345675"]
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        result = await sms.send("hello", to=numbers)
        changes = []
        with anyio.fail_after(10):
            # A poll every 30 s: only pushes can finish this in time.
            async for change in sms.watch(result.batch_id, interval=30, push=receiver):
                changes.append(change)
    finals = {c.report.mobile: c.state for c in changes if c.state.is_final}
    assert finals == {
        "+886912345670": DeliveryState.DELIVERED,
        "+886912345677": DeliveryState.FAILED,
        "+886912345678": DeliveryState.FAILED,
        "+886912345675": DeliveryState.DELIVERED,
    }
    # Each recipient's state once, though polls and pushes both reported them.
    assert not [k for k, n in Counter((c.report.mobile, c.state) for c in changes).items() if n > 1]
    assert sim.every8d.count("getDeliveryStatus") == 1
    assert any(c.report.reported_at is not None for c in changes)  # some came pushed


async def test_simulator_pushes_replies(
    pushing: tuple[Simulator, Every8dPushReceiver],
) -> None:
    sim, receiver = pushing
    async with aiosms.Every8dSoapClient(USER, PASSWORD, base_url=sim.url) as sms:
        result = await sms.send("Reply OK to confirm", to="+886912345675")
    async with receiver.subscribe([result.batch_id]) as events:
        with anyio.fail_after(10):
            async for event in events:
                if isinstance(event, Reply):
                    break
    assert (event.mobile, event.text, event.batch_id) == ("+886912345675", "OK", result.batch_id)


async def test_simulator_repeats_a_failed_push_ten_times_at_most() -> None:
    hits = Counter[str]()

    async def failing(request: web.Request) -> web.Response:
        hits[request.query["STATUS"]] += 1
        return web.Response(status=500)

    app = web.Application()
    app.router.add_get("/push", failing)
    sim = Simulator(delivery_time=0.05, push_interval=3600)  # pushes made by hand here
    async with serve(app) as url, sim, aiohttp.ClientSession() as session:
        sim.every8d.create_batch("demo", ["+886912345670"], status="100")
        sim.every8d.push_url = f"{url}/push"
        for _ in range(15):
            assert await sim.every8d.push_due(session) == 0
    assert hits == {"100": 10}
    assert sim.every8d.pushes == []
