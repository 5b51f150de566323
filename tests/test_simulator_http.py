"""Tests of the simulated EVERY8D HTTP API 2.1 endpoints, over raw loopback HTTP.

Requests are built with plain aiohttp and replies read here, never with the aiosms
clients, so a bug in a client cannot hide a bug in the simulator (or vice versa).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

import aiohttp
import pytest
from lxml import etree

from aiosms.testing import TAIPEI, Every8dHttpCall, Simulator

USER, PASSWORD = "acme", "pa&ss=wörd+%?"
HTTP = "/API21/HTTP/"
BATCH_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
SEND_TIME = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TEMPURI = "http://tempuri.org/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


# ----------------------------------------------------------------------------- helpers


class Api:
    """A tiny raw caller of the HTTP API, bound to one simulator and one account."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator) -> None:
        self.http = http
        self.sim = sim

    async def raw(
        self,
        operation: str,
        params: Mapping[str, str],
        *,
        method: str = "POST",
        prefix: str = "",
        auth: tuple[str, str] | None = (USER, PASSWORD),
    ) -> tuple[int, str, str]:
        url = self.sim.url + prefix + HTTP + operation
        fields = dict(params)
        if auth is not None:
            fields = {"UID": auth[0], "PWD": auth[1], **fields}
        if method == "GET":
            request = self.http.get(url, params=fields)
        else:
            request = self.http.post(url, data=fields)
        async with request as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()

    async def text(self, operation: str, method: str = "POST", **params: str) -> str:
        status, ctype, body = await self.raw(operation, params, method=method)
        assert (status, ctype) == (200, "text/plain; charset=utf-8"), body
        return body

    async def send(self, dest: str, msg: str = "hello", **params: str) -> list[str]:
        return (await self.text("sendSMS.ashx", DEST=dest, MSG=msg, **params)).split(",")

    async def send_mms(
        self, dest: str, msg: str = "看圖", image: bytes = PNG, **params: str
    ) -> list[str]:
        fields = {"TYPE": "png", "ATTACHMENT": base64.b64encode(image).decode()} | params
        return (await self.text("MMS/sendMMS.ashx", DEST=dest, MSG=msg, **fields)).split(",")

    async def page(self, batch_id: str, pno: str = "", *, mms: bool = False) -> list[list[str]]:
        """A report page as [[count], row fields…] (no padding expected)."""
        body = await self.text(
            ("MMS/" if mms else "") + "getDeliveryStatus.ashx", BID=batch_id, PNO=pno
        )
        assert "\r" not in body
        count, *rows = body.split("\n")
        return [[count], *(row.split("\t") for row in rows)]

    async def statuses(self, batch_id: str, *, mms: bool = False) -> dict[str, str]:
        _, *rows = await self.page(batch_id, mms=mms)
        return {row[1]: row[4] for row in rows}

    async def credit(self) -> str:
        return await self.text("getCredit.ashx")

    async def erase(self, batch_id: str, *, mms: bool = False) -> str:
        return await self.text(("MMS/" if mms else "") + "eraseBooking.ashx", BID=batch_id)


def taipei(delta: timedelta) -> str:
    return (datetime.now(TAIPEI) + delta).strftime("%Y%m%d%H%M%S")


def last_call(sim: Simulator) -> Every8dHttpCall:
    return sim.every8d_http.calls[-1]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(delivery_time=0.05) as simulator:
        simulator.every8d.add_account(USER, PASSWORD, credit=Decimal("100"))
        yield simulator


@pytest.fixture
async def api(sim: Simulator) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, sim)


async def soap(api: Api, operation: str, **params: str) -> str:
    """One raw SOAP 1.1 call's ``<opResult>`` text."""
    root = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    call = etree.SubElement(
        etree.SubElement(root, f"{{{SOAP11}}}Body"),
        f"{{{TEMPURI}}}{operation}",
        nsmap={None: TEMPURI},  # type: ignore[dict-item]
    )
    for name, value in params.items():
        etree.SubElement(call, f"{{{TEMPURI}}}{name}").text = value
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{TEMPURI}{operation}"'}
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    async with api.http.post(api.sim.url + "/API21/SOAP/SMS.asmx", data=body, headers=headers) as r:
        assert r.status == 200
        reply = etree.fromstring(await r.read())
    return reply.findtext(f".//{{{TEMPURI}}}{operation}Result") or ""


async def soap_key(api: Api) -> str:
    result = await soap(api, "getConnection", userID=USER, password=PASSWORD)
    inner = etree.fromstring(result.split("?>", 1)[1].encode())
    assert inner.findtext("GET_CONNECTION/CODE") == "0"
    return inner.findtext("GET_CONNECTION/SESSION_KEY") or ""


# ----------------------------------------------------------------------------- requests


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_send_by_form_or_query(api: Api, method: str) -> None:
    result = await api.text(
        "sendSMS.ashx", method, DEST="+886912345670,0922333441", MSG="hi", SB="subj"
    )
    credit, sent, cost, unsent, batch_id = result.split(",")
    assert (credit, sent, cost, unsent) == ("98.00", "2", "2.0", "0")
    assert BATCH_ID.fullmatch(batch_id)
    batch = api.sim.every8d.batches[batch_id]
    assert (batch.operation, batch.kind, batch.subject) == ("sendSMS.ashx", "sms", "subj")
    assert batch.mobiles == ["+886912345670", "0922333441"]
    call = last_call(api.sim)
    assert (call.operation, call.method, call.path) == (
        "sendSMS.ashx",
        method,
        HTTP + "sendSMS.ashx",
    )
    assert call.params["PWD"] == PASSWORD  # arrived intact through either encoding
    expected_keys = {"UID", "PWD", "DEST", "MSG", "SB"} if method == "GET" else set()
    assert set(call.query_keys) == expected_keys


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_chinese_hebrew_and_emoji_reach_the_batch(api: Api, method: str) -> None:
    text = "您好，驗證碼 1234 🎉 שלום & a+b=c%20"
    result = await api.text("sendSMS.ashx", method, DEST="0912345670", MSG=text, SB="主旨 ✓")
    batch = api.sim.every8d.batches[result.split(",")[4]]
    assert (batch.text(0), batch.subject) == (text, "主旨 ✓")


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ],
)
async def test_form_content_types_read_as_utf8(api: Api, content_type: str | None) -> None:
    body = "UID=acme&PWD=pa%26ss%3Dw%C3%B6rd%2B%25%3F&DEST=0912345670&MSG=%E4%BD%A0+%F0%9F%98%80"
    headers = {} if content_type is None else {"Content-Type": content_type}
    async with api.http.post(
        api.sim.url + HTTP + "sendSMS.ashx",
        data=body.encode(),
        headers=headers,
        skip_auto_headers=["Content-Type"],
    ) as resp:
        assert resp.status == 200
        result = await resp.text()
    assert api.sim.every8d.batches[result.split(",")[4]].text(0) == "你 😀"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json", "application/x-www-form-urlencoded; charset=big5"],
)
async def test_other_bodies_are_refused_415(api: Api, content_type: str) -> None:
    async with api.http.post(
        api.sim.url + HTTP + "getCredit.ashx",
        data=b"UID=acme&PWD=x",
        headers={"Content-Type": content_type},
    ) as resp:
        assert resp.status == 415
    assert api.sim.every8d_http.calls == []


async def test_paths_methods_and_names(api: Api) -> None:
    for prefix, name in [("/acme", "getCredit.ashx"), ("/x/y", "GETCREDIT.ASHX")]:
        url = api.sim.url + prefix + "/api21/http/" + name
        async with api.http.get(url, params={"uid": USER, "pwd": PASSWORD}) as resp:
            assert (resp.status, await resp.text()) == (200, "100.00")
        assert last_call(api.sim).path == prefix + "/api21/http/" + name
    assert api.sim.every8d_http.count("getCredit.ashx") == 2
    async with api.http.put(api.sim.url + HTTP + "getCredit.ashx") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET, POST"
    status, _, _ = await api.raw("sendFax.ashx", {})
    assert status == 404
    status, _, _ = await api.raw("MMS/getCredit.ashx", {})
    assert status == 404
    assert len(api.sim.every8d_http.calls) == 2  # refused requests are not calls


async def test_call_log_keeps_password_out_of_repr(api: Api) -> None:
    url = api.sim.url + HTTP + "getCredit.ashx"
    async with api.http.post(url, params={"UID": USER}, data={"PWD": PASSWORD}) as resp:
        assert await resp.text() == "100.00"
    call = last_call(api.sim)
    assert (call.method, call.query_keys) == ("POST", ("UID",))
    assert call.params == {"UID": USER, "PWD": PASSWORD}
    assert call.faults == ()
    assert abs(call.at - api.sim.now()) < 5
    assert PASSWORD not in repr(call)
    assert "wörd" not in repr(call)
    assert "'PWD': '***'" in repr(call)


async def test_send_errors(api: Api) -> None:
    assert (await api.text("sendSMS.ashx", DEST="0912345670", MSG="")).startswith("-1,")
    assert await api.text("sendSMS.ashx", DEST="09123x", MSG="hi") == "-306,手機格式不符:09123x"
    assert (await api.text("sendSMS.ashx", DEST="0912345670", MSG="hi", ST="2031")).startswith(
        "-6,"
    )
    assert api.sim.every8d.batches == {}
    assert await api.credit() == "100.00"


# ----------------------------------------------------------------------------- one world


async def test_soap_and_http_share_batches_and_credit(api: Api) -> None:
    key = await soap_key(api)
    result = await soap(
        api,
        "sendSMS",
        sessionKey=key,
        subject="",
        content="hi",
        mobile="0912345670",
        sendTime="",
        retryTime="",
    )
    soap_batch = result.split(",")[4]
    seeded = api.sim.every8d.create_batch(USER, ["0912345671", "0912345672"], status="100")
    http_result = await api.send("0912345673", "x" * 71)  # 2 points
    assert http_result[:3] == ["97.00", "1", "2.0"]
    assert await api.credit() == "97.00"
    assert await soap(api, "getCredit", sessionKey=key) == "97.00"
    assert [row[1] for row in (await api.page(soap_batch))[1:]] == ["0912345670"]
    assert (await api.page(seeded))[0] == ["2"]
    assert [row[4] for row in (await api.page(seeded))[1:]] == ["100", "100"]
    # The SOAP report lists the HTTP batch too.
    log = await soap(api, "getDeliveryStatus", sessionKey=key, batchID=http_result[4], pageNo="")
    assert "0912345673" in log
    # The HTTP API uses no session keys: the SOAP one is untouched by it.
    assert api.sim.every8d.account(USER).session_key == key


# ----------------------------------------------------------------------------- reports


async def test_2500_recipients_make_three_pages(api: Api) -> None:
    numbers = [f"09{i:08d}" for i in range(2500)]
    batch = api.sim.every8d.create_batch(USER, numbers, status="100")
    pages = [await api.page(batch, pno) for pno in ("1", "2", "3", "4")]
    assert [page[0] for page in pages] == [["2500"]] * 4
    assert [len(page) - 1 for page in pages] == [1000, 1000, 500, 0]
    assert [row[1] for page in pages for row in page[1:]] == numbers
    assert await api.page(batch, "") == pages[0]
    assert await api.page(batch, " 2 ") == pages[1]
    for bad in ("0", "-1", "x", "1.5"):
        body = await api.text("getDeliveryStatus.ashx", BID=batch, PNO=bad)
        assert body.split(",")[0] == "-1"


async def test_row_format(api: Api) -> None:
    now = await api.send("0912345670,0912345678")
    later = await api.send("0912345671", ST=taipei(timedelta(hours=2)))
    api.sim.advance(10)
    sent_at = api.sim.every8d.batches[now[4]].send_at(0)
    when = datetime.fromtimestamp(sent_at, TAIPEI).strftime("%Y/%m/%d %H:%M:%S")
    body = await api.text("getDeliveryStatus.ashx", BID=now[4], PNO="")
    assert body == f"2\n\t0912345670\t{when}\t1.0\t100\n\t0912345678\t{when}\t1.0\t103"
    assert SEND_TIME.fullmatch(when)
    assert await api.page(later[4]) == [["1"], ["", "0912345671", "", "1.0", "300"]]


async def test_six_columns_and_padding(api: Api) -> None:
    batch = api.sim.every8d.create_batch(USER, ["0912345670", "0912345671"], status="100")
    service = api.sim.every8d_http
    service.report_columns = 6
    _, first, second = await api.page(batch)
    assert (len(first), first[5], second[5]) == (6, "1", "2")
    service.pad_reports = True
    body = await api.text("getDeliveryStatus.ashx", BID=batch)
    lines = body.split("\r\n")
    assert "\n" not in body.replace("\r\n", "")
    assert (lines[0], lines[1], lines[-2], lines[-1]) == (" 2  ", "", "", "")
    rows = [line.split("\t") for line in lines[2:-2]]
    assert len(rows) == 2
    assert all(len(row) == 6 for row in rows)
    assert all(f.startswith(" ") and f.endswith(" ") for row in rows for f in row)
    assert [[row[1].strip(), row[4].strip(), row[5].strip()] for row in rows] == [
        ["0912345670", "100", "1"],
        ["0912345671", "100", "2"],
    ]
    service.report_columns = 5
    body = await api.text("getDeliveryStatus.ashx", BID=batch)
    assert [len(line.split("\t")) for line in body.split("\r\n")[2:-2]] == [5, 5]
    with pytest.raises(ValueError, match="5 or 6"):
        service.report_columns = 7


# ----------------------------------------------------------------------------- MMS


async def test_mms_costs_three_points_a_recipient_whatever_its_length(api: Api) -> None:
    credit, sent, cost, unsent, batch_id = await api.send_mms(
        "0912345670,+886912345671", "長" * 1000, SB="Logo"
    )
    assert (credit, sent, cost, unsent) == ("94.00", "2", "6.0", "0")
    batch = api.sim.every8d.batches[batch_id]
    assert (batch.kind, batch.operation, batch.subject) == ("mms", "MMS/sendMMS.ashx", "Logo")
    assert (batch.attachment, batch.attachment_type) == (PNG, "png")
    assert batch.text(0) == "長" * 1000
    assert await api.credit() == "94.00"


def _mms_ok(result: list[str]) -> bool:
    return len(result) == 5 and not result[0].startswith("-")


@pytest.mark.parametrize(
    ("subject", "text", "image_size", "ok"),
    [
        ("中" * 15, "hi", 100, True),
        ("中" * 16, "hi", 100, False),
        ("a" * 95, "hi", 100, True),
        ("a" * 96, "hi", 100, False),
        ("a" * 14 + "中", "hi", 100, True),
        ("a" * 15 + "中", "hi", 100, False),  # one non-ASCII character: 15 at most
        ("", "x" * 4000, 100, True),
        ("", "x" * 4001, 100, False),
        ("", "", 50 * 1024, True),  # the picture alone may fill the 50 KiB
        ("", "", 50 * 1024 + 1, False),
        ("", "中" * 10, 50 * 1024 - 30, True),  # 30 UTF-8 bytes of text + the picture
        ("", "中" * 10, 50 * 1024 - 29, False),
    ],
)
async def test_mms_limits_at_their_boundaries(
    api: Api, subject: str, text: str, image_size: int, ok: bool
) -> None:
    image = (PNG * 60)[:image_size]
    result = await api.send_mms("0912345670", text, image, SB=subject)
    assert _mms_ok(result) is ok, result
    if ok:
        assert result[:4] == ["97.00", "1", "3.0", "0"]
    else:
        assert re.fullmatch(r"-[0-9]+", result[0]), result  # -code,message
        assert result[1], result
        assert api.sim.every8d.batches == {}
        assert await api.credit() == "100.00"


@pytest.mark.parametrize(
    "dest",
    [
        "+14155550100",
        "0212345678",
        "886912345678",
        "+886212345678",
        "091234567",
        "0912345670,+85291234567",
    ],
)
async def test_mms_goes_to_taiwanese_numbers_only(api: Api, dest: str) -> None:
    result = await api.send_mms(dest)
    bad = dest.split(",")[-1]
    assert ",".join(result) == f"-306,手機格式不符:{bad}"
    assert api.sim.every8d.batches == {}
    assert await api.credit() == "100.00"


@pytest.mark.parametrize(
    "fields",
    [
        {"ATTACHMENT": ""},
        {"ATTACHMENT": "@@not base64@@"},
        {"ATTACHMENT": "iVBORw0KGgo"},  # bad padding
        {"TYPE": "bmp"},
        {"TYPE": ""},
    ],
)
async def test_mms_bad_picture_or_type(api: Api, fields: dict[str, str]) -> None:
    good = {"TYPE": "png", "ATTACHMENT": base64.b64encode(PNG).decode()}
    body = await api.text("MMS/sendMMS.ashx", DEST="0912345670", MSG="hi", **(good | fields))
    result = body.split(",")
    assert result[0] == "-1", result
    assert result[1], result
    assert api.sim.every8d.batches == {}


async def test_mms_type_in_any_case_and_wrapped_base64(api: Api) -> None:
    wrapped = base64.encodebytes(PNG).decode()  # lines of 76 characters
    result = await api.text(
        "MMS/sendMMS.ashx", DEST="0912345670", MSG="", TYPE="JPEG", ATTACHMENT=wrapped
    )
    batch = api.sim.every8d.batches[result.split(",")[4]]
    assert (batch.attachment, batch.attachment_type) == (PNG, "jpeg")


async def test_mms_and_sms_batches_are_apart(api: Api) -> None:
    mms = (await api.send_mms("0912345670", ST=taipei(timedelta(hours=1))))[4]
    sms = (await api.send("0912345671", ST=taipei(timedelta(hours=1))))[4]
    assert await api.page(mms) == [["0"]]
    assert await api.page(sms, mms=True) == [["0"]]
    assert (await api.page(mms, mms=True))[0] == ["1"]
    assert (await api.page(sms))[0] == ["1"]
    assert await api.erase(mms) == ""
    assert await api.erase(sms, mms=True) == ""
    assert await api.statuses(mms, mms=True) == {"0912345670": "300"}
    # Another account's batch is unknown too.
    api.sim.every8d.add_account("other", "pw")
    status, _, body = await api.raw(
        "MMS/getDeliveryStatus.ashx", {"BID": mms}, auth=("other", "pw")
    )
    assert (status, body) == (200, "0")


async def test_mms_status_300_until_sent_then_700() -> None:
    async with Simulator(delivery_time=60) as sim, aiohttp.ClientSession() as http:
        sim.every8d.add_account(USER, PASSWORD)
        api = Api(http, sim)
        now = (await api.send_mms("0912345670,0912345671"))[4]
        later = (await api.send_mms("0912345672", ST=taipei(timedelta(hours=2))))[4]
        _, *rows = await api.page(now, mms=True)
        assert {row[4] for row in rows} == {"300"}
        assert {row[2] for row in rows} == {""}
        assert await api.erase(now, mms=True) == ""  # on its way: no longer cancellable
        sim.advance(91)  # past every recipient's send time plus its spread (< 1.5 * 60)
        _, *rows = await api.page(now, mms=True)
        assert [(row[4], row[3]) for row in rows] == [("700", "3.0"), ("700", "3.0")]
        assert all(SEND_TIME.fullmatch(row[2]) for row in rows)
        assert await api.statuses(later, mms=True) == {"0912345672": "300"}
        sim.advance(3 * 3600)
        assert await api.statuses(later, mms=True) == {"0912345672": "700"}


async def test_mms_pushes_300_700_and_303() -> None:
    async with Simulator(delivery_time=60) as sim, aiohttp.ClientSession() as http:
        api = Api(http, sim)
        sim.every8d.add_account(USER, PASSWORD)
        world = sim.every8d.world
        sent = (await api.send_mms("0912345670"))[4]
        booked = (await api.send_mms("0912345671", ST=taipei(timedelta(hours=1))))[4]

        def pushed() -> list[tuple[str, str]]:
            return [(p["BatchID"], p["STATUS"]) for p in world.due_pushes()]

        assert sorted(pushed()) == sorted([(sent, "300"), (booked, "300")])
        assert await api.erase(booked, mms=True) == "1,3.0"
        sim.advance(91)
        assert sorted(pushed()) == sorted([(sent, "700"), (booked, "303")])
        assert pushed() == []


# ----------------------------------------------------------------------------- cancel


async def test_cancel_refunds_scheduled_sms_and_mms(api: Api) -> None:
    at = taipei(timedelta(hours=2))
    sms = (await api.send("0912345670,0912345671", ST=at))[4]
    mms = (await api.send_mms("0912345672,0912345673", ST=at))[4]
    assert await api.credit() == "92.00"
    assert await api.erase(mms, mms=True) == "2,6.0"
    assert await api.credit() == "98.00"
    assert await api.erase(sms) == "2,2.0"
    assert await api.credit() == "100.00"
    assert await api.statuses(mms, mms=True) == {"0912345672": "303", "0912345673": "303"}
    assert await api.page(sms) == [
        ["2"],
        ["", "0912345670", "", "0.0", "303"],
        ["", "0912345671", "", "0.0", "303"],
    ]
    api.sim.advance(3 * 3600)  # cancelled stays cancelled
    assert await api.statuses(sms) == {"0912345670": "303", "0912345671": "303"}
    # Nothing left to cancel, or no such batch: an empty reply.
    assert await api.erase(sms) == ""
    assert await api.erase(mms, mms=True) == ""
    assert await api.erase("00000000-0000-4000-8000-000000000000") == ""
    sent = (await api.send("0912345674"))[4]
    assert await api.erase(sent) == ""


# ----------------------------------------------------------------------------- accounts


async def test_wrong_passwords_block_the_account_on_the_tenth(api: Api) -> None:
    status, _, body = await api.raw("getCredit.ashx", {}, auth=("nobody", "x"))
    assert (status, body) == (200, "-100")
    for _ in range(9):
        assert (await api.raw("getCredit.ashx", {}, auth=(USER, "wrong")))[2] == "-101"
    assert await api.credit() == "100.00"  # a right password resets the count
    for method in ["GET", "POST"] * 5:
        _, _, body = await api.raw("getCredit.ashx", {}, auth=(USER, "wrong"), method=method)
        assert body == "-101"
    assert api.sim.every8d.account(USER).blocked
    for operation in ("getCredit.ashx", "sendSMS.ashx", "MMS/getDeliveryStatus.ashx"):
        assert (await api.raw(operation, {"DEST": "0912345670", "MSG": "x"}))[2] == "-999"
    assert api.sim.every8d.batches == {}
    result = await soap(api, "getConnection", userID=USER, password=PASSWORD)
    assert "<CODE>-999</CODE>" in result  # one world: SOAP refuses it too
    assert api.sim.every8d.account(USER).session_key is None


# ----------------------------------------------------------------------------- faults


async def test_faults_apply_by_http_operation_name(api: Api) -> None:
    sim = api.sim
    sim.faults.drop(operation="sendSMS.ashx")
    key = await soap_key(api)
    soap_result = await soap(
        api,
        "sendSMS",
        sessionKey=key,
        subject="",
        content="hi",
        mobile="0912345670",
        sendTime="",
        retryTime="",
    )
    assert BATCH_ID.fullmatch(soap_result.split(",")[4])  # SOAP's sendSMS is not caught
    with pytest.raises(aiohttp.ClientError):
        await api.send("0912345671")
    assert len(sim.every8d.batches) == 1  # dropped before processing: nothing sent
    assert last_call(sim).faults == ("drop",)

    sim.faults.drop(operation="sendSMS.ashx", after_processing=True)
    with pytest.raises(aiohttp.ClientError):
        await api.send("0912345672")
    assert len(sim.every8d.batches) == 2  # sent and charged, though no answer came
    assert await api.credit() == "98.00"

    sim.faults.http_error(503, operation="getCredit.ashx")
    assert (await api.raw("getCredit.ashx", {}))[0] == 503
    sim.faults.malformed(
        b"<html>oops", operation="MMS/getDeliveryStatus.ashx", content_type="text/html"
    )
    assert (await api.page("x"))[0] == ["0"]  # the SMS query is not caught
    assert (await api.raw("MMS/getDeliveryStatus.ashx", {"BID": "x"}))[1:] == (
        "text/html",
        "<html>oops",
    )
    sim.faults.busy()  # the HTTP API has no busy answer: the rule waits
    sim.faults.delay(0.3, operation="getCredit.ashx")
    started = time.monotonic()
    assert await api.credit() == "98.00"
    assert time.monotonic() - started >= 0.3
    assert last_call(sim).faults == ("delay",)
    assert [rule.kind for rule in sim.faults.pending] == ["busy"]
    assert [c.faults for c in sim.every8d_http.calls if c.operation == "getCredit.ashx"] == [
        (),
        ("http_error",),
        ("delay",),
    ]


async def test_concurrent_sends_share_the_credit_exactly(api: Api) -> None:
    results = await asyncio.gather(*(api.send(f"09123456{i:02d}") for i in range(40)))
    assert sorted(r[0] for r in results) == [f"{c}.00" for c in range(60, 100)]
    assert len({r[4] for r in results}) == 40
    assert await api.credit() == "60.00"
