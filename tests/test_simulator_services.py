"""Tests of the simulator's shapes: the EVERY8D world shared by endpoints, the shared
ASMX serving, and the push loop that serves any provider.

Like tests/test_simulator.py these speak raw HTTP/SOAP and never use the aiosms clients.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from aiohttp import web
from lxml import etree

from aiosms.testing import (
    Every8dSoapService,
    Every8dWorld,
    PushOutbox,
    PushSource,
    Simulator,
)
from aiosms.testing._soap_service import (
    SoapFault,
    SoapOperation,
    fault_envelope,
    parse_soap_request,
    result_envelope,
    serve_soap,
)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TEMPURI = "http://tempuri.org/"
SMSCENTER = "http://www.smscenter.co.il/"
PATH = "/API21/SOAP/SMS.asmx"


def envelope(operation: str, params: dict[str, str], namespace: str = TEMPURI) -> bytes:
    params_xml = "".join(f"<{k}>{v}</{k}>" for k, v in params.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP11}">'
        f'<soap:Body><{operation} xmlns="{namespace}">{params_xml}</{operation}>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def headers(operation: str, namespace: str = TEMPURI) -> dict[str, str]:
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{namespace}{operation}"'}


def result_text(data: bytes, operation: str, namespace: str = TEMPURI) -> str:
    found = etree.fromstring(data).find(f".//{{{namespace}}}{operation}Result")
    assert found is not None, data
    return found.text or ""


async def call(
    http: aiohttp.ClientSession, url: str, operation: str, path: str = PATH, **params: str
) -> str:
    async with http.post(
        url + path, data=envelope(operation, params), headers=headers(operation)
    ) as resp:
        assert resp.status == 200
        return result_text(await resp.read(), operation)


async def login(http: aiohttp.ClientSession, url: str, user: str, password: str) -> str:
    inner = await call(http, url, "getConnection", userID=user, password=password)
    key = etree.fromstring(inner.split("?>", 1)[1]).findtext("GET_CONNECTION/SESSION_KEY")
    assert key
    return key


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# ----------------------------------------------------------------------------- the world


def test_endpoint_state_is_the_worlds() -> None:
    world = Every8dWorld(clock=lambda: 1_000_000.0, delivery_time=0)
    first = Every8dSoapService(world=world)
    second = Every8dSoapService(world=world, namespace="urn:other")
    first.add_account("acme", "pw", credit=Decimal(7))
    batch_id = second.create_batch("acme", ["0912000001"])
    assert first.batches is second.batches is world.batches
    assert batch_id in first.batches
    assert second.account("acme").credit == Decimal(7)
    first.fate = lambda mobile: "102"
    assert world.fate("0912000001") == "102"
    second.push_url = "http://push.invalid/"
    assert first.push_url == world.push_url == "http://push.invalid/"
    first.delivery_time = 3.0
    assert world.delivery_time == 3.0
    assert first.push_source is second.push_source is world
    with pytest.raises(TypeError, match="world"):
        Every8dSoapService(world=world, delivery_time=1.0)


def test_world_operations_take_parsed_arguments() -> None:
    world = Every8dWorld(clock=lambda: 1_000_000.0)
    code, account = world.authenticate("demo", "demo-password")
    assert code == "0"
    assert account is not None
    assert world.authenticate("demo", "wrong") == ("-101", None)
    assert world.authenticate("ghost", "x") == ("-100", None)
    credit, sent, cost, unsent, batch_id = world.send_sms(
        account, content="hi", mobile="0912000001, +15551234567"
    ).split(",")
    assert (credit, sent, cost, unsent) == ("996.00", "2", "4.0", "0")
    assert world.get_credit(account) == "996.00"
    assert world.owned_batch(account, batch_id) is world.batches[batch_id]
    other = world.add_account("other", "pw")
    assert world.owned_batch(other, batch_id) is None
    assert world.get_delivery_status(account, batch_id, "0") == "-1,參數錯誤"
    assert "<MOBILE>0912000001</MOBILE>" in world.get_delivery_status(account, batch_id)
    assert world.erase_booking(account, batch_id) is None  # already sent
    assert world.send_sms(account, content="hi", mobile="12ab5678") == "-306,手機格式不符:12ab5678"


async def test_soap_send_shows_in_a_second_endpoint_of_the_same_world(
    http: aiohttp.ClientSession,
) -> None:
    # An endpoint of another API would be mounted like this one; here a second SOAP
    # endpoint at another path stands in for it.
    class Elsewhere(Every8dSoapService):
        def matches(self, path: str) -> bool:
            return path == "/elsewhere.asmx"

    async with Simulator() as sim:
        sim.mount(Elsewhere(world=sim.every8d.world, faults=sim.faults))
        key = await login(http, sim.url, "demo", "demo-password")
        batch_id = (
            await call(http, sim.url, "sendSMS", sessionKey=key, content="hi", mobile="0912000001")
        ).split(",")[-1]
        assert await call(http, sim.url, "getCredit", "/elsewhere.asmx", sessionKey=key) == "999.00"
        status = await call(
            http, sim.url, "getDeliveryStatus", "/elsewhere.asmx", sessionKey=key, batchID=batch_id
        )
        assert "<MOBILE>0912000001</MOBILE>" in status
        assert sim.every8d.count("getCredit") == 0  # each endpoint logs its own calls


async def test_a_100000_recipient_send_is_quick(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        sim.every8d.add_account("big", "pw", credit=Decimal(10**6))
        key = await login(http, sim.url, "big", "pw")
        mobiles = ",".join(f"+8869{i:08d}" for i in range(100_000))
        body = envelope(
            "sendSMS", {"sessionKey": key, "subject": "", "content": "hello", "mobile": mobiles}
        )
        assert len(body) > 1_200_000
        started = time.perf_counter()
        data = io.BytesIO(body)  # aiohttp warns about large raw bytes bodies
        async with http.post(sim.url + PATH, data=data, headers=headers("sendSMS")) as resp:
            result = result_text(await resp.read(), "sendSMS")
        elapsed = time.perf_counter() - started
        assert result.split(",")[:4] == ["900000.00", "100000", "100000.0", "0"]
        assert elapsed < 2.0, elapsed  # about 0.1 s here


# ----------------------------------------------------------------------------- ASMX serving


def test_soap_serving_takes_any_namespace_and_operation_table() -> None:
    ops = {"SendMessageReturnMessageID": SoapOperation(lambda args: None)}
    body = envelope("SendMessageReturnMessageID", {"Username": "u", "Message": "m"}, SMSCENTER)
    request = parse_soap_request(
        headers("SendMessageReturnMessageID", SMSCENTER),
        body,
        namespace=SMSCENTER,
        operations=ops,
        path="/x.asmx",
    )
    assert (request.version, request.operation, request.args, request.path) == (
        "1.1",
        "SendMessageReturnMessageID",
        {"Username": "u", "Message": "m"},
        "/x.asmx",
    )
    with pytest.raises(SoapFault, match="did not recognize"):
        parse_soap_request(
            headers("SendMessageReturnMessageID"), body, namespace=TEMPURI, operations=ops
        )
    # A structured result: child elements of <opResult>, in the service namespace.
    data = result_envelope(
        "1.1", SMSCENTER, "SendMessageReturnMessageID", {"Response": "OK", "MessageID": "7"}
    )
    result = etree.fromstring(data).find(f".//{{{SMSCENTER}}}SendMessageReturnMessageIDResult")
    assert result is not None
    assert [(etree.QName(e).localname, e.text) for e in result] == [
        ("Response", "OK"),
        ("MessageID", "7"),
    ]
    fault = etree.fromstring(fault_envelope("1.2", "no"))
    assert fault.findtext(f".//{{{SOAP12}}}Reason/{{{SOAP12}}}Text") == "no"


async def test_serve_soap_is_an_endpoint_in_a_few_lines(http: aiohttp.ClientSession) -> None:
    seen: list[str] = []

    class Center:
        def __init__(self, sim: Simulator) -> None:
            self.sim = sim
            self.ops = {
                "Balance": SoapOperation(lambda args: {"SMS": "12", "User": args["Username"]})
            }

        def matches(self, path: str) -> bool:
            return path == "/center.asmx"

        async def handle(self, request: web.Request) -> web.StreamResponse:
            return await serve_soap(
                request,
                namespace=SMSCENTER,
                operations=self.ops,
                faults=self.sim.faults,
                on_call=lambda call, plan: seen.append(call.operation),
            )

    async with Simulator() as sim:
        sim.mount(Center(sim))
        async with http.post(
            sim.url + "/center.asmx",
            data=envelope("Balance", {"Username": "me"}, SMSCENTER),
            headers=headers("Balance", SMSCENTER),
        ) as resp:
            data = await resp.read()
        assert resp.status == 200
        found = etree.fromstring(data).find(f".//{{{SMSCENTER}}}BalanceResult")
        assert found is not None
        assert found.findtext(f"{{{SMSCENTER}}}User") == "me"
        sim.faults.http_error(503, operation="Balance")  # one fault queue for every service
        async with http.post(
            sim.url + "/center.asmx",
            data=envelope("Balance", {"Username": "me"}, SMSCENTER),
            headers=headers("Balance", SMSCENTER),
        ) as resp:
            assert resp.status == 503
        assert seen == ["Balance", "Balance"]


# ----------------------------------------------------------------------------- pushes


class CountingSource:
    """A push source of another provider: one PUT per message it is told of."""

    def __init__(self) -> None:
        self.push_url: str | None = None
        self.owed: list[str] = []
        self.outbox: PushOutbox[str] = PushOutbox(self._put, tries=2)

    @staticmethod
    async def _put(session: aiohttp.ClientSession, url: str, body: str) -> bool:
        async with session.put(url, data=body) as resp:
            return resp.status == 204

    def matches(self, path: str) -> bool:
        return False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raise AssertionError("never routed")

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        owed, self.owed = self.owed, []
        assert self.push_url is not None
        return await self.outbox.flush(session, self.push_url, owed)


async def test_the_push_loop_serves_every_source_and_each_world_once() -> None:
    got: list[tuple[str, str]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append((request.method, await request.text()))
        return web.Response(status=204 if request.method == "PUT" else 200)

    app = web.Application()
    app.router.add_route("*", "/push", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/push"
    try:
        async with Simulator(delivery_time=0.01, push_interval=0.01) as sim:
            other = CountingSource()
            assert isinstance(other, PushSource)
            sim.mount(other)
            # A second endpoint of the same world: its pushes are the world's, made once.
            sim.mount(Every8dSoapService(world=sim.every8d.world, faults=sim.faults))
            other.push_url = url
            other.owed = ["one", "two"]
            sim.every8d.create_batch("demo", ["+886912345670"], status="100")
            sim.every8d.push_url = url
            for _ in range(200):
                if len(got) >= 3:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # time for duplicates, if there were any
    finally:
        await runner.cleanup()
    assert sorted(got) == [("GET", ""), ("PUT", "one"), ("PUT", "two")]
    assert other.outbox.delivered == ["one", "two"]
    assert [q["STATUS"] for q in sim.every8d.pushes] == ["100"]


async def test_push_outbox_gives_up_after_its_tries() -> None:
    attempts: list[str] = []

    async def fail(session: aiohttp.ClientSession, url: str, push: str) -> bool:
        attempts.append(push)
        raise aiohttp.ClientConnectionError("refused")

    outbox: PushOutbox[str] = PushOutbox(fail, tries=3)
    async with aiohttp.ClientSession() as session:
        assert await outbox.flush(session, "http://x.invalid/", ["a"]) == 0
        assert outbox.pending == 1
        for _ in range(5):
            await outbox.flush(session, "http://x.invalid/", [])
    assert attempts == ["a", "a", "a"]
    assert outbox.pending == 0
    assert outbox.delivered == []
    with pytest.raises(ValueError, match="tries"):
        PushOutbox(fail, tries=0)
