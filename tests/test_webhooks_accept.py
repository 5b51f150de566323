"""The shared push receiver without any web framework: accept()'s answers, callback
authentication (token, allow_from), the one warning, secrecy of the token, fan-out
rules, a second provider's parser plugged in, and the layering rule of webhooks.py."""

from __future__ import annotations

import ast
import hmac
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from test_webhooks import BATCH, USER, query  # the callbacks both files send

import aiosms.every8d.push
import aiosms.webhooks as webhooks
from aiosms import DeliveryReport, DeliveryState, Reply, ResponseFormatError
from aiosms.every8d.push import Every8dPushParser, parse_push
from aiosms.webhooks import (
    Answer,
    Every8dPushReceiver,
    ForeignCallError,
    PushCall,
    PushParser,
    PushReceiver,
)

TOKEN = "Zq0-secret.token_for~pushes"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def guarded(**options: Any) -> Every8dPushReceiver:
    return Every8dPushReceiver(user_id=USER, token=TOKEN, **options)


# ------------------------------------------------------------------ accept(), no framework


async def test_accept_answers_ok_and_delivers() -> None:
    receiver = guarded()
    async with receiver.subscribe([BATCH]) as events:
        answer = await receiver.accept("GET", query(token=TOKEN), peer="198.51.100.7")
        assert answer == Answer(200, "OK", "text/plain")
        event = events.receive_nowait()
    assert event == parse_push(query())
    assert (receiver.received, receiver.refused) == (1, 0)


async def test_accept_takes_a_posted_form_and_a_token_in_the_path() -> None:
    receiver = guarded()
    async with receiver.subscribe() as events:
        body = b"BatchID=b-1&RM=%2B886900000001&STATUS=999&SM=%E5%A5%BD&CustID=A-17"
        answer = await receiver.accept(
            "POST", {}, body, {"Content-Type": FORM["content-type"]}, path=f"/push/{TOKEN}/"
        )
        assert answer.status == 200
        reply = events.receive_nowait()
    assert isinstance(reply, Reply)
    assert (reply.batch_id, reply.mobile, reply.text) == ("b-1", "+886900000001", "好")
    assert reply.details == {"CustID": "A-17"}


async def test_accept_answers_400_to_an_unreadable_call() -> None:
    receiver = guarded()
    answer = await receiver.accept("GET", query(token=TOKEN, STATUS="1OO"))
    assert answer.status == 400
    assert "STATUS" in answer.body
    answer = await receiver.accept("POST", {"token": TOKEN}, b"{}", {"content-type": "text/json"})
    assert answer.status == 400
    assert (receiver.received, receiver.refused) == (0, 2)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({}, ""),  # no token at all
        ({}, "/every8d/push"),  # a path without one
        ({"token": "wrong"}, ""),
        ({"token": TOKEN[:-1]}, ""),
        ({"token": TOKEN + "x"}, ""),
        ({"token": "wróng-token-ünicode"}, ""),
        ({}, f"/every8d/push/{TOKEN[1:]}"),
        ({"token": ""}, f"/every8d/push/{TOKEN}"),  # a query token is the one checked
    ],
)
async def test_accept_answers_403_without_the_right_token(
    params: dict[str, str], path: str
) -> None:
    receiver = guarded()
    async with receiver.subscribe() as events:
        answer = await receiver.accept("GET", query(**params), path=path)
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert answer == Answer(403, "wrong or missing token")
    assert (receiver.received, receiver.refused) == (0, 1)


async def test_accept_checks_the_token_before_reading_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = guarded()
    parsed: list[PushCall] = []
    real = Every8dPushParser.parse

    def recording(self: Every8dPushParser, call: PushCall) -> list[DeliveryReport | Reply]:
        parsed.append(call)
        return real(self, call)

    monkeypatch.setattr(Every8dPushParser, "parse", recording)
    assert (await receiver.accept("GET", query(STATUS="garbage"))).status == 403
    assert (await receiver.accept("POST", {}, b"\xff" * 10_000, FORM)).status == 403
    assert parsed == []
    assert (await receiver.accept("GET", query(token=TOKEN))).status == 200
    assert len(parsed) == 1
    assert "token" not in parsed[0].query  # the parser never sees the secret


async def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    receiver = guarded()
    assert (await receiver.accept("GET", query(token=TOKEN))).status == 200
    assert (await receiver.accept("GET", query(token="nope"))).status == 403
    assert (await receiver.accept("GET", query(), path=f"/p/{TOKEN}")).status == 200
    assert compared == [
        (TOKEN.encode(), TOKEN.encode()),
        (b"nope", TOKEN.encode()),
        (TOKEN.encode(), TOKEN.encode()),
    ]


@pytest.mark.parametrize(
    ("peer", "status"),
    [
        ("203.0.113.9", 200),
        ("127.0.0.1", 200),
        ("::ffff:203.0.113.9", 200),  # IPv4 as a dual-stack socket reports it
        ("2001:db8::5", 200),
        ("203.0.114.1", 403),
        ("10.0.0.1", 403),
        ("2001:db9::5", 403),
        (None, 403),  # no address known: not provably inside
        ("not an address", 403),
        ("", 403),
    ],
)
async def test_accept_answers_403_outside_allow_from(peer: str | None, status: int) -> None:
    receiver = guarded(allow_from=["203.0.113.0/24", "127.0.0.1/32", "2001:db8::/32"])
    async with receiver.subscribe() as events:
        answer = await receiver.accept("GET", query(token=TOKEN), peer=peer)
        assert answer.status == status
        assert events.statistics().current_buffer_used == (status == 200)


async def test_allow_from_alone_needs_no_token() -> None:
    receiver = Every8dPushReceiver(allow_from=["192.0.2.0/24"])
    assert (await receiver.accept("GET", query(), peer="192.0.2.1")).status == 200
    assert (await receiver.accept("GET", query(), peer="192.0.3.1")).status == 403


async def test_accept_answers_403_for_another_account() -> None:
    receiver = guarded()
    answer = await receiver.accept("GET", query(token=TOKEN, USERID="mallory"))
    assert answer.status == 403
    assert "another account" in answer.body
    assert receiver.user_id == USER
    # The HTTP API's callbacks name no account; they are accepted.
    http_api = {"token": TOKEN, "BATCHID": BATCH, "RM": "+886961295288", "STATUS": "100"}
    assert (await receiver.accept("GET", http_api)).status == 200


async def test_accept_answers_405_to_a_method_the_provider_does_not_use() -> None:
    receiver = guarded()
    answer = await receiver.accept("PUT", query(token=TOKEN))
    assert answer.status == 405
    assert (await receiver.accept("get", query(token=TOKEN))).status == 200


async def test_accept_answers_503_when_a_subscriber_is_full_then_recovers() -> None:
    receiver = guarded(buffer=1)
    async with receiver.subscribe() as events:
        assert (await receiver.accept("GET", query(token=TOKEN, RM="+886900000001"))).status == 200
        full = await receiver.accept("GET", query(token=TOKEN, RM="+886900000002"))
        assert full.status == 503
        assert events.receive_nowait().mobile == "+886900000001"
        again = await receiver.accept("GET", query(token=TOKEN, RM="+886900000002"))
        assert again.status == 200
        assert events.receive_nowait().mobile == "+886900000002"
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert (receiver.received, receiver.refused) == (2, 1)


async def test_a_refused_call_reaches_no_subscriber_so_a_retry_is_no_duplicate() -> None:
    receiver = guarded(buffer=1)
    async with receiver.subscribe() as roomy, receiver.subscribe() as full:
        roomy_buffer = roomy.statistics().max_buffer_size
        assert roomy_buffer == 1
        assert (await receiver.accept("GET", query(token=TOKEN, RM="+886900000001"))).status == 200
        roomy.receive_nowait()  # one subscriber keeps up, the other does not
        assert (await receiver.accept("GET", query(token=TOKEN, RM="+886900000002"))).status == 503
        with pytest.raises(anyio.WouldBlock):
            roomy.receive_nowait()
        full.receive_nowait()
        assert (await receiver.accept("GET", query(token=TOKEN, RM="+886900000002"))).status == 200
        assert roomy.receive_nowait().mobile == full.receive_nowait().mobile == "+886900000002"


async def test_a_finished_subscription_does_not_hold_calls_back() -> None:
    receiver = guarded(buffer=1)
    async with receiver.subscribe() as events:
        events.close()  # the reader went away while still subscribed
        for i in range(3):
            answer = await receiver.accept("GET", query(token=TOKEN, RM=f"+88690000000{i}"))
            assert answer.status == 200


# ------------------------------------------------------------------ warnings, secrecy


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_one_warning_without_a_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    receiver = Every8dPushReceiver(user_id=USER)
    for _ in range(3):
        assert (await receiver.accept("GET", query())).status == 200
    [warning] = warnings_of(caplog)
    assert warning.name == "aiosms.webhooks"
    assert "no token=" in warning.getMessage()
    assert "token_urlsafe" in warning.getMessage()  # and how to set one
    Every8dPushReceiver()
    assert len(warnings_of(caplog)) == 2  # one per receiver


async def test_no_warning_with_a_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    receiver = guarded(allow_from=["127.0.0.0/8"])
    assert (await receiver.accept("GET", query(token=TOKEN), peer="127.0.0.1")).status == 200
    assert warnings_of(caplog) == []


async def test_the_token_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    receiver = guarded(buffer=1, allow_from=["127.0.0.1/32"])
    answers = []
    async with receiver.subscribe() as events:
        for params, path, peer in [
            (query(token=TOKEN), "", "127.0.0.1"),
            (query(token=TOKEN), "", "127.0.0.1"),  # 503: the subscriber is full
            (query(token=TOKEN[:-2]), "", "127.0.0.1"),  # a near miss isn't echoed either
            (query(token=TOKEN), "", "10.1.1.1"),
            (query(token=TOKEN, STATUS="1OO"), "", "127.0.0.1"),
            (query(USERID="mallory"), f"/push/{TOKEN}", "127.0.0.1"),
        ]:
            answers.append(await receiver.accept("GET", params, path=path, peer=peer))
        event = events.receive_nowait()
    assert [a.status for a in answers] == [200, 503, 403, 403, 400, 403]
    shown = [caplog.text, repr(receiver), repr(receiver.parser), repr(event), str(answers)]
    assert caplog.text  # the refusals were logged
    for text in shown:
        assert TOKEN not in text
        assert TOKEN[:-2] not in text
    assert "token set" in repr(receiver)


@pytest.mark.parametrize("token", ["", "short", "has space in it ok", "slash/in/the/token!!", 42])
def test_a_weak_token_is_refused_without_echoing_it(token: Any) -> None:
    with pytest.raises(ValueError, match="token_urlsafe") as info:
        Every8dPushReceiver(token=token)
    if token:
        assert str(token) not in str(info.value)


@pytest.mark.parametrize("allow_from", ["127.0.0.1/32", ["127.0.0.1/8"], ["nowhere"]])
def test_allow_from_must_be_a_list_of_networks(allow_from: Any) -> None:
    with pytest.raises(ValueError, match="allow_from"):
        Every8dPushReceiver(token=TOKEN, allow_from=allow_from)


# ------------------------------------------------------------------ another provider's parser


class JsonPutParser:
    """A parser shaped like EIMS's: reports PUT as a JSON list, answered with JSON."""

    provider = "jsonput"
    methods = ("PUT",)
    success = Answer(200, '{"code": 0}', "application/json")

    def parse(self, call: PushCall) -> list[DeliveryReport]:
        try:
            items = json.loads(call.body)
            reports = [
                DeliveryReport(
                    item["batch"],
                    item["id"],
                    item["mobile"],
                    "",
                    DeliveryState.DELIVERED,
                    "0",
                    "delivered",
                    None,
                    None,
                    (),
                    datetime(2030, 1, 1, tzinfo=UTC),
                )
                for item in items
            ]
        except (ValueError, KeyError, TypeError):
            raise ResponseFormatError(
                "not a JSON list of reports", provider=self.provider
            ) from None
        if call.headers.get("x-account", "mine") != "mine":
            raise ForeignCallError("another account", provider=self.provider)
        return reports


def body(*ids: str, batch: str = "job-1") -> bytes:
    return json.dumps([{"batch": batch, "id": i, "mobile": f"+1555{i}"} for i in ids]).encode()


async def test_any_provider_plugs_in_its_parser() -> None:
    parser: PushParser[DeliveryReport] = JsonPutParser()
    receiver = PushReceiver(parser, token=TOKEN, buffer=2)
    assert receiver.provider == "jsonput"
    async with receiver.subscribe(["m2"]) as by_message, receiver.subscribe(["job-1"]) as by_job:
        answer = await receiver.accept("PUT", {"token": TOKEN}, body("m1", "m2"))
        assert answer == Answer(200, '{"code": 0}', "application/json")
        assert by_message.receive_nowait().message_id == "m2"  # matched by message id
        with pytest.raises(anyio.WouldBlock):
            by_message.receive_nowait()
        assert by_job.receive_nowait().message_id == "m1"  # matched by batch id
        # Two more for job-1 would overflow its buffer: neither is delivered.
        assert (await receiver.accept("PUT", {"token": TOKEN}, body("m3", "m4"))).status == 503
        assert by_job.statistics().current_buffer_used == 1
        assert by_job.receive_nowait().message_id == "m2"
        assert (await receiver.accept("GET", {"token": TOKEN})).status == 405
        assert (await receiver.accept("PUT", {"token": TOKEN}, b"[{}]")).status == 400
        foreign = await receiver.accept("PUT", {"token": TOKEN}, body("m5"), {"X-Account": "x"})
        assert foreign.status == 403
    # A later subscription replays the backlog, by message id too.
    async with receiver.subscribe(["m1"]) as late:
        assert late.receive_nowait().message_id == "m1"


async def test_a_repeated_call_is_kept_once_in_the_backlog() -> None:
    receiver = PushReceiver(JsonPutParser(), token=TOKEN)
    for _ in range(3):
        assert (await receiver.accept("PUT", {"token": TOKEN}, body("m1", "m2"))).status == 200
    async with receiver.subscribe() as events:
        replayed = [events.receive_nowait() for _ in range(2)]
        with pytest.raises(anyio.WouldBlock):
            events.receive_nowait()
    assert [r.message_id for r in replayed] == ["m1", "m2"]
    assert receiver.received == 3


def test_add_to_routes_the_parsers_methods_and_the_token_path() -> None:
    from aiohttp import web

    app = web.Application()
    PushReceiver(JsonPutParser(), token=TOKEN).add_to(app, "/eims/push")
    guarded().add_to(app)  # the default path: /every8d/push
    Every8dPushReceiver(user_id=USER).add_to(app, "/open")  # no token: no token route
    routes = sorted(
        (r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None
    )
    assert routes == [
        ("GET", "/every8d/push"),
        ("GET", "/every8d/push/{token}"),
        ("GET", "/open"),
        ("POST", "/every8d/push"),
        ("POST", "/every8d/push/{token}"),
        ("POST", "/open"),
        ("PUT", "/eims/push"),
        ("PUT", "/eims/push/{token}"),
    ]


# ------------------------------------------------------------------ layering


PROVIDERS = ("every8d", "eims", "smscenter")


def provider_imports(source: str) -> list[str]:
    """The provider packages a module imports when it is imported (function bodies,
    which run later, excepted; class bodies and ``if``/``try`` blocks included)."""

    def run_at_import(nodes: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            yield node
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    yield from run_at_import(getattr(child, "body", [child]))

    imported = []
    for node in run_at_import(ast.parse(source).body):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if module in (".", "aiosms"):  # from . import every8d
                imported += [f"{module.rstrip('.')}.{alias.name}" for alias in node.names]
            else:
                imported.append(module)
    return [
        name
        for name in imported
        if name.lstrip(".").split(".")[0] in PROVIDERS
        or (name.startswith("aiosms.") and name.split(".")[1] in PROVIDERS)
    ]


def test_the_import_check_finds_what_it_should() -> None:
    bad = """
import logging
from .every8d.push import parse_push
import aiosms.eims.push
if TYPE_CHECKING:
    from .smscenter import push
class Receiver:
    from aiosms.every8d import codes
def lazy():
    from .every8d.push import Every8dPushReceiver
from . import models, eims
from aiosms import smscenter
from .errors import SmsError
"""
    assert provider_imports(bad) == [
        ".every8d.push",
        "aiosms.eims.push",
        ".smscenter",
        "aiosms.every8d",
        ".eims",
        "aiosms.smscenter",
    ]


def test_webhooks_imports_no_provider_package_at_module_level() -> None:
    source = Path(webhooks.__file__).read_text(encoding="utf-8")
    assert "import_module" in source  # the lazy import is there, inside __getattr__
    assert provider_imports(source) == []


def test_provider_receivers_are_exported_lazily() -> None:
    assert webhooks.Every8dPushReceiver is aiosms.every8d.push.Every8dPushReceiver
    assert webhooks.Every8dPushEvent == DeliveryReport | Reply
    assert "Every8dPushReceiver" in dir(webhooks)
    namespace: dict[str, Any] = {}
    exec("from aiosms.webhooks import *", namespace)  # noqa: S102
    assert set(webhooks.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="NoSuchReceiver"):
        _ = webhooks.NoSuchReceiver
