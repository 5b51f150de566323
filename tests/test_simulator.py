"""Tests of the provider simulator itself, speaking raw SOAP over loopback.

These deliberately avoid the aiosms clients: requests are built and replies parsed here
with lxml, so a bug in a client cannot hide a bug in the simulator (or vice versa).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import aiohttp
import pytest
from lxml import etree

from aiosms.testing import TAIPEI, Every8dSoapService, Simulator, default_fate, message_cost

pytest_plugins = ["aiosms.testing.pytest_plugin"]

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TEMPURI = "http://tempuri.org/"
PATH = "/API21/SOAP/SMS.asmx"
BATCH_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
FINAL = {"100", "101", "103", "107", "303"}
DEMO_PASSWORD = "demo-password"


# ----------------------------------------------------------------------------- helpers


def envelope(
    operation: str,
    params: Sequence[tuple[str, str]],
    *,
    version: str = "1.1",
    namespace: str = TEMPURI,
) -> bytes:
    env_ns = SOAP11 if version == "1.1" else SOAP12
    root = etree.Element(f"{{{env_ns}}}Envelope", nsmap={"soap": env_ns})
    body = etree.SubElement(root, f"{{{env_ns}}}Body")
    call = etree.SubElement(body, f"{{{namespace}}}{operation}", nsmap={None: namespace})  # type: ignore[dict-item]
    for name, value in params:
        etree.SubElement(call, f"{{{namespace}}}{name}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def headers_for(operation: str, version: str = "1.1", namespace: str = TEMPURI) -> dict[str, str]:
    action = namespace + operation
    if version == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}


class Soap:
    """A tiny raw SOAP caller bound to one simulator."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator) -> None:
        self.http = http
        self.sim = sim

    async def post(
        self, body: bytes, headers: dict[str, str], path: str = PATH
    ) -> tuple[int, str, bytes]:
        async with self.http.post(self.sim.url + path, data=body, headers=headers) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.read()

    async def call(
        self,
        operation: str,
        *params: tuple[str, str],
        version: str = "1.1",
        path: str = PATH,
    ) -> str | None:
        status, ctype, data = await self.post(
            envelope(operation, params, version=version), headers_for(operation, version), path
        )
        assert status == 200, data
        expected_type = "text/xml" if version == "1.1" else "application/soap+xml"
        assert ctype.startswith(expected_type)
        root = etree.fromstring(data)
        env_ns = SOAP11 if version == "1.1" else SOAP12
        assert root.tag == f"{{{env_ns}}}Envelope"
        response = root.find(f"{{{env_ns}}}Body/{{{TEMPURI}}}{operation}Response")
        assert response is not None, data
        result = response.find(f"{{{TEMPURI}}}{operation}Result")
        return None if result is None else (result.text or "")

    async def text(self, operation: str, *params: tuple[str, str], **kw: Any) -> str:
        result = await self.call(operation, *params, **kw)
        assert result is not None
        return result

    async def login(
        self, user: str = "demo", password: str = DEMO_PASSWORD, **kw: Any
    ) -> tuple[str, str]:
        inner = etree.fromstring(
            _strip_decl(
                await self.text("getConnection", ("userID", user), ("password", password), **kw)
            )
        )
        return inner.findtext("GET_CONNECTION/CODE") or "", (
            inner.findtext("GET_CONNECTION/SESSION_KEY") or ""
        )

    async def key(self, user: str = "demo", password: str = DEMO_PASSWORD) -> str:
        code, key = await self.login(user, password)
        assert code == "0"
        return key

    async def send(
        self, key: str, mobile: str, content: str = "hello", send_time: str = ""
    ) -> list[str]:
        result = await self.text(
            "sendSMS",
            ("sessionKey", key),
            ("subject", "test"),
            ("content", content),
            ("mobile", mobile),
            ("sendTime", send_time),
        )
        return result.split(",")

    async def status(self, key: str, batch_id: str, page: str = "") -> etree._Element:
        result = await self.text(
            "getDeliveryStatus", ("sessionKey", key), ("batchID", batch_id), ("pageNo", page)
        )
        assert result.startswith('<?xml version="1.0" encoding="utf-8"?>')
        root = etree.fromstring(_strip_decl(result))
        assert root.findtext("CODE") == "0"
        return root

    async def statuses(self, key: str, batch_id: str) -> dict[str, str]:
        root = await self.status(key, batch_id)
        return {sms.findtext("MOBILE") or "": sms.findtext("STATUS") or "" for sms in rows(root)}

    async def credit(self, key: str) -> str:
        return await self.text("getCredit", ("sessionKey", key))


def _strip_decl(text: str) -> str:
    return text.split("?>", 1)[1] if text.startswith("<?xml") else text


def rows(root: etree._Element) -> list[etree._Element]:
    return root.findall("GET_DELIVERY_STATUS/SMS")


def taipei_time(delta: timedelta) -> str:
    return (datetime.now(TAIPEI) + delta).strftime("%Y%m%d%H%M%S")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def soap(http: aiohttp.ClientSession, sms_simulator: Simulator) -> Soap:
    return Soap(http, sms_simulator)


# ----------------------------------------------------------------------------- SOAP layer


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_get_connection_in_both_soap_versions(soap: Soap, version: str) -> None:
    raw = await soap.text(
        "getConnection", ("userID", "demo"), ("password", "demo-password"), version=version
    )
    assert raw.startswith('<?xml version="1.0" encoding="utf-8"?><SMS>')
    inner = etree.fromstring(_strip_decl(raw))
    assert inner.findtext("GET_CONNECTION/CODE") == "0"
    assert re.fullmatch(r"[0-9a-f]{32}", inner.findtext("GET_CONNECTION/SESSION_KEY") or "")
    assert inner.findtext("GET_CONNECTION/DESCRIPTION") == "取得連線成功"
    call = soap.sim.every8d.calls[-1]
    assert (call.operation, call.soap_version) == ("getConnection", version)
    assert call.params == {"userID": "demo", "password": "demo-password"}
    assert "demo-password" not in repr(call)


async def test_response_envelope_is_asmx_shaped(soap: Soap) -> None:
    status, ctype, data = await soap.post(
        envelope("getCredit", [("sessionKey", "nope")]), headers_for("getCredit")
    )
    assert (status, ctype) == (200, "text/xml; charset=utf-8")
    root = etree.fromstring(data)
    assert root.nsmap == {
        "soap": SOAP11,
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "xsd": "http://www.w3.org/2001/XMLSchema",
    }
    response = root[0][0]
    assert response.tag == f"{{{TEMPURI}}}getCreditResponse"
    assert response.nsmap[None] == TEMPURI
    assert response[0].tag == f"{{{TEMPURI}}}getCreditResult"
    assert response[0].text == "-301"


async def test_path_prefix_and_unknown_paths(soap: Soap) -> None:
    key = await soap.key()
    for path in ("/acme/API21/SOAP/SMS.asmx", "/a/b/api21/soap/sms.asmx"):
        assert await soap.credit(key) == await soap.text(
            "getCredit", ("sessionKey", key), path=path
        )
        assert soap.sim.every8d.calls[-1].path == path
    status, _, _ = await soap.post(
        envelope("getCredit", [("sessionKey", key)]), headers_for("getCredit"), "/API21/other"
    )
    assert status == 404
    async with soap.http.get(soap.sim.url + PATH) as resp:
        assert resp.status == 405


def _fault(data: bytes, version: str) -> tuple[str, str]:
    root = etree.fromstring(data)
    env_ns = SOAP11 if version == "1.1" else SOAP12
    fault = root.find(f"{{{env_ns}}}Body/{{{env_ns}}}Fault")
    assert fault is not None, data
    if version == "1.1":
        return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""
    text = fault.find(f"{{{env_ns}}}Reason/{{{env_ns}}}Text")
    assert text is not None
    assert text.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    return fault.findtext(f"{{{env_ns}}}Code/{{{env_ns}}}Value") or "", text.text or ""


@pytest.mark.parametrize("version", ["1.1", "1.2"])
async def test_soap_faults(soap: Soap, version: str) -> None:
    code = "soap:Client" if version == "1.1" else "soap:Sender"
    ctype = "text/xml" if version == "1.1" else "application/soap+xml"
    cases: list[tuple[bytes, dict[str, str]]] = [
        (envelope("launchRockets", [], version=version), headers_for("launchRockets", version)),
        (b"<soap:Envelope><oops", headers_for("getCredit", version)),
        (
            envelope("getCredit", [("sessionKey", "x")], version=version, namespace="urn:other"),
            headers_for("getCredit", version, namespace="urn:other"),
        ),
        (
            envelope("getCredit", [("sessionKey", "x")], version=version),
            headers_for("sendSMS", version),
        ),
    ]
    for body, headers in cases:
        status, got_type, data = await soap.post(body, headers)
        assert status == 500
        assert got_type.startswith(ctype)
        fault_code, message = _fault(data, version)
        assert fault_code == code
        assert message
    # SOAP 1.1 needs a SOAPAction header; any SOAP needs a content type.
    if version == "1.1":
        status, _, data = await soap.post(
            envelope("getCredit", [("sessionKey", "x")]), {"Content-Type": "text/xml"}
        )
        assert status == 500
        assert _fault(data, "1.1")[0] == "soap:Client"
    async with soap.http.post(
        soap.sim.url + PATH,
        data=envelope("getCredit", [("sessionKey", "x")], version=version),
        skip_auto_headers=["Content-Type"],
    ) as resp:
        assert "Content-Type" not in resp.request_info.headers
        assert resp.status == 500
        assert _fault(await resp.read(), "1.1")[0] == "soap:Client"
    assert soap.sim.every8d.calls == []  # rejected requests are not operations


async def test_custom_namespace() -> None:
    async with Simulator(namespace="urn:every8d") as sim, aiohttp.ClientSession() as http:
        headers = headers_for("getCredit", namespace="urn:every8d/")
        body = envelope("getCredit", [("sessionKey", "x")], namespace="urn:every8d")
        async with http.post(sim.url + PATH, data=body, headers=headers) as resp:
            data = await resp.read()
        assert resp.status == 200
        result = etree.fromstring(data).find(".//{urn:every8d}getCreditResult")
        assert result is not None
        assert result.text == "-301"


# ----------------------------------------------------------------------------- sessions


async def test_login_codes_and_lockout(soap: Soap) -> None:
    service = soap.sim.every8d
    service.add_account("acme", "right")
    assert (await soap.login("nobody", "x"))[0] == "-100"
    for _ in range(9):
        assert (await soap.login("acme", "wrong"))[0] == "-101"
    assert service.account("acme").failed_logins == 9
    assert (await soap.login("acme", "right"))[0] == "0"  # success resets the counter
    assert service.account("acme").failed_logins == 0
    for _ in range(10):
        assert (await soap.login("acme", "wrong"))[0] == "-101"
    assert service.account("acme").blocked
    code, key = await soap.login("acme", "right")
    assert (code, key) == ("-999", "")
    assert service.count("getConnection") == 22


async def test_one_session_key_per_account(soap: Soap) -> None:
    first = await soap.key()
    second = await soap.key()
    assert first != second
    assert await soap.credit(first) == "-301"
    assert await soap.credit(second) == "1000.00"
    assert await soap.text("closeConnection", ("sessionKey", second)) == "1"
    assert await soap.text("closeConnection", ("sessionKey", second)) == "-1"
    assert await soap.credit(second) == "-301"


async def test_session_expiry(soap: Soap) -> None:
    key = await soap.key()
    soap.sim.every8d.expire_sessions()
    assert await soap.credit(key) == "-301"
    key = await soap.key()
    soap.sim.advance(86399)
    assert await soap.credit(key) == "1000.00"
    soap.sim.advance(2)
    assert await soap.credit(key) == "-301"
    assert (await soap.send(key, "0912345678")) == ["-301"]


# ----------------------------------------------------------------------------- sending


async def test_send_result_credit_and_international_tripling(soap: Soap) -> None:
    key = await soap.key()
    credit, sent, cost, unsent, batch_id = await soap.send(
        key, "0912345678,+886922333444,+15551234567"
    )
    assert (credit, sent, cost, unsent) == ("995.00", "3", "5.0", "0")
    assert BATCH_ID.fullmatch(batch_id)
    assert await soap.credit(key) == "995.00"
    # 71 characters cost 2; 3x for an international number.
    credit, sent, cost, unsent, _ = await soap.send(key, "0912345678,+4412345678", "x" * 71)
    assert (credit, sent, cost, unsent) == ("987.00", "2", "8.0", "0")
    assert soap.sim.every8d.account("demo").credit == Decimal("987")
    costs = {r.mobile: r.cost for r in soap.sim.every8d.recipients(batch_id)}
    assert costs == {"0912345678": 1, "+886922333444": 1, "+15551234567": 3}


def test_message_cost_table() -> None:
    cases = {1: 1, 70: 1, 71: 2, 134: 2, 135: 3, 201: 3, 202: 4, 268: 4, 269: 5, 333: 5}
    cases |= {334: 6, 400: 6, 401: 6}  # longer texts: 333-character parts, each priced
    for length, cost in cases.items():
        assert message_cost("字" * length, "0912345678") == cost, length
        assert message_cost("a" * length, "+15551234567") == 3 * cost
    assert message_cost("😀" * 70, "+886912345678") == 1  # code points, not UTF-16 units


async def test_send_message_records_validity(soap: Soap) -> None:
    key = await soap.key()
    result = await soap.text(
        "sendMessage",
        ("sessionKey", key),
        ("subject", "s"),
        ("content", "c"),
        ("mobile", "0912345678"),
        ("sendTime", ""),
        ("retryTime", "30"),
    )
    batch = soap.sim.every8d.batches[result.split(",")[-1]]
    assert (batch.operation, batch.validity_minutes, batch.subject) == ("sendMessage", 30, "s")


async def test_send_errors(soap: Soap) -> None:
    key = await soap.key()
    assert await soap.send(key, "0912345678,12ab5678") == ["-306", "手機格式不符:12ab5678"]
    assert await soap.send(key, "0912345678,1234567") == ["-306", "手機格式不符:1234567"]
    assert await soap.send(key, "0912345678", content="") == ["-1", "參數錯誤"]
    assert await soap.send(key, "") == ["-1", "參數錯誤"]
    for bad_time in ("2030-01-01", "20301301000000", "2030010100000"):
        assert await soap.send(key, "0912345678", send_time=bad_time) == ["-6", "DT格式錯誤"]
    assert await soap.send("not-a-key", "0912345678") == ["-301"]
    assert await soap.credit(key) == "1000.00"
    assert soap.sim.every8d.batches == {}


async def test_unsend_when_credit_runs_out(soap: Soap) -> None:
    soap.sim.every8d.add_account("poor", "pw", credit=Decimal("4"))
    key = await soap.key("poor", "pw")
    numbers = "+15551234567,0912000001,0912000002,+15551234568,0912000003,0912000004"
    credit, sent, cost, unsent, batch_id = await soap.send(key, numbers)
    # 3 (intl) + 1 fit; the second intl (3) does not; then nothing else fits either.
    assert (credit, sent, cost, unsent) == ("0.00", "2", "4.0", "4")
    statuses = await soap.statuses(key, batch_id)
    assert statuses["+15551234568"] == "301"
    assert statuses["0912000004"] == "301"
    assert sum(1 for s in statuses.values() if s == "301") == 4
    credit, sent, cost, unsent, _ = await soap.send(key, "0912000005")
    assert (credit, sent, cost, unsent) == ("0.00", "0", "0.0", "1")


PERSONAL_TEXTS = {
    "+886900000001": "中文測試 <>&\"' 你好",
    "+886900000002": "שלום עולם",
    "+886900000003": "emoji 😀🎉 family 👨‍👩‍👧",
    "+886900000004": "tricky ]]> end ]]]]><![CDATA[>",
}


def content_xml(users: Sequence[tuple[str, str, str, str]]) -> str:
    """(name, mobile, send time, text) -> a REPS document; `]]>` texts are escaped."""
    parts = ["<REPS>"]
    for name, mobile, send_time, text in users:
        body = escape(text) if "]]>" in text else f"<![CDATA[{text}]]>"
        parts.append(
            f"<USER NAME={quoteattr(name)} MOBILE={quoteattr(mobile)} EMAIL=''"
            f" SENDTIME={quoteattr(send_time)}>{body}</USER>"
        )
    parts.append("</REPS>")
    return "\n".join(parts)


async def test_send_param_sms_round_trip(soap: Soap) -> None:
    key = await soap.key()
    users = [(f"N{i}", m, "", t) for i, (m, t) in enumerate(PERSONAL_TEXTS.items())]
    result = await soap.text(
        "sendParamSMS",
        ("sessionKey", key),
        ("subject", "p"),
        ("contentXML", content_xml(users)),
        ("sendTime", ""),
    )
    credit, sent, cost, unsent, batch_id = result.split(",")
    assert (credit, sent, cost, unsent) == ("996.00", "4", "4.0", "0")
    recipients = soap.sim.every8d.recipients(batch_id)
    assert {r.mobile: r.text for r in recipients} == PERSONAL_TEXTS
    assert [r.name for r in recipients] == ["N0", "N1", "N2", "N3"]
    root = await soap.status(key, batch_id)
    assert [(s.findtext("NAME"), s.findtext("MOBILE")) for s in rows(root)] == [
        (f"N{i}", m) for i, m in enumerate(PERSONAL_TEXTS)
    ]


async def test_send_param_sms_per_user_send_time_and_errors(soap: Soap) -> None:
    key = await soap.key()
    later = taipei_time(timedelta(hours=2))

    async def param(xml: str, send_time: str = "") -> str:
        return await soap.text(
            "sendParamSMS",
            ("sessionKey", key),
            ("subject", ""),
            ("contentXML", xml),
            ("sendTime", send_time),
        )

    users = [("a", "0912000001", "", "now"), ("b", "0912000002", later, "later")]
    batch_id = (await param(content_xml(users))).split(",")[-1]
    statuses = await soap.statuses(key, batch_id)
    assert statuses == {"0912000001": "0", "0912000002": "300"}
    assert await soap.text("eraseBooking", ("sessionKey", key), ("batchID", batch_id)) == "1,1.0"
    assert await soap.credit(key) == "999.00"

    assert await param(content_xml([("x", "09-bad", "", "t")])) == "-306,手機格式不符:09-bad"
    assert await param(content_xml([("x", "0912000001", "2020", "t")])) == "-6,DT格式錯誤"
    assert await param("<REPS><USER MOBILE='0912000001'>unclosed") == "-1,參數錯誤"
    assert await param("<REPS></REPS>") == "-1,參數錯誤"
    assert await param(content_xml(users), send_time="soon") == "-6,DT格式錯誤"


# ----------------------------------------------------------------------------- reports


async def test_delivery_status_paging(soap: Soap) -> None:
    service = soap.sim.every8d
    numbers = [f"+8869{i:08d}" for i in range(2500)]
    batch_id = service.create_batch("demo", numbers, status="100")
    key = await soap.key()
    seen: list[str] = []
    for page, expected in (("1", 1000), ("2", 1000), ("3", 500), ("4", 0)):
        root = await soap.status(key, batch_id, page)
        assert root.find("GET_DELIVERY_STATUS").get("COUNT") == "2500"  # type: ignore[union-attr]
        page_rows = rows(root)
        assert len(page_rows) == expected
        assert all(r.findtext("STATUS") == "100" for r in page_rows)
        assert all(r.findtext("COST") == "1.00" for r in page_rows)
        seen += [r.findtext("MOBILE") or "" for r in page_rows]
    assert seen == numbers
    first_page = await soap.status(key, batch_id, "")
    assert [r.findtext("MOBILE") for r in rows(first_page)] == numbers[:1000]
    unknown = await soap.status(key, "00000000-0000-4000-8000-000000000000")
    assert unknown.find("GET_DELIVERY_STATUS").get("COUNT") == "0"  # type: ignore[union-attr]
    assert rows(unknown) == []
    bad_key = await soap.text(
        "getDeliveryStatus", ("sessionKey", "x"), ("batchID", batch_id), ("pageNo", "")
    )
    assert bad_key == "-301"


async def test_sent_time_format_and_manual_replies(soap: Soap) -> None:
    service = soap.sim.every8d
    target = datetime(datetime.now(TAIPEI).year + 1, 3, 5, 4, 7, 9, tzinfo=TAIPEI)
    soap.sim.advance(target.timestamp() - time.time())
    batch_id = service.create_batch("demo", ["0912000001", "0912000002"], status="100")
    later = target + timedelta(days=30)
    service.add_reply(batch_id, "+886912000001", "第一 ]]> reply", at=later)
    service.add_reply(batch_id, "0912000001", "second")
    with pytest.raises(KeyError):
        service.add_reply(batch_id, "0999999999", "x")
    with pytest.raises(ValueError, match="aware"):
        service.add_reply(batch_id, "0912000001", "x", at=datetime(2030, 1, 1))
    key = await soap.key()
    first, second = rows(await soap.status(key, batch_id))
    sent_time = first.findtext("SENT_TIME") or ""
    assert re.fullmatch(rf"{target.year}/3/5 04:07:(09|10)", sent_time), sent_time
    sent = datetime.fromtimestamp(service.batches[batch_id].send_at(0), TAIPEI)
    assert sent_time == f"{sent.year}/{sent.month}/{sent.day} {sent:%H:%M:%S}"
    replies = first.findall("REPLY_SMS")
    assert len(replies) == 1  # the later reply has not happened yet
    assert replies[0].findtext("MESSAGE") == "second"
    assert second.find("REPLY_SMS") is None
    soap.sim.advance(31 * 86400)
    first = rows(await soap.status(await soap.key(), batch_id))[0]
    assert [r.findtext("MESSAGE") for r in first.findall("REPLY_SMS")] == [
        "second",
        "第一 ]]> reply",
    ]
    assert first.findall("REPLY_SMS")[1].findtext("REPLY_TIME") == f"{later.year}/04/04 04:07:09"


async def test_status_progresses_from_accepted_to_final(http: aiohttp.ClientSession) -> None:
    async with Simulator(delivery_time=0.4) as sim:
        soap = Soap(http, sim)
        key = await soap.key()
        numbers = ["0912000000", "0912000005", "0912000007", "0912000008", "0912000009"]
        batch_id = (await soap.send(key, ",".join(numbers)))[-1]
        first = await soap.statuses(key, batch_id)
        assert set(first.values()) == {"0"}
        deadline = time.monotonic() + 5
        history: list[dict[str, str]] = []
        for _ in range(100):
            now = await soap.statuses(key, batch_id)
            history.append(now)
            if set(now.values()) <= FINAL or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert history[-1] == {n: default_fate(n) for n in numbers}
        assert history[-1] == {
            "0912000000": "100",
            "0912000005": "100",
            "0912000007": "101",
            "0912000008": "103",
            "0912000009": "107",
        }
        # The batch's recipients do not all change at once.
        assert any(len(set(h.values())) > 1 and "0" in h.values() for h in history)
        sim.advance(1)
        root = await soap.status(key, batch_id)
        replies = {
            s.findtext("MOBILE"): [m.text for m in s.iterfind("REPLY_SMS/MESSAGE")]
            for s in rows(root)
        }
        assert replies["0912000005"] == ["OK"]
        assert sum(len(v) for v in replies.values()) == 1


async def test_custom_fate(soap: Soap) -> None:
    soap.sim.every8d.fate = lambda mobile: "102"
    key = await soap.key()
    batch_id = (await soap.send(key, "0912000000,0912000001"))[-1]
    soap.sim.advance(5)
    assert set((await soap.statuses(key, batch_id)).values()) == {"102"}


async def test_scheduled_send_erase_and_null_result(soap: Soap) -> None:
    key = await soap.key()
    credit, sent, cost, _, batch_id = await soap.send(
        key, "0912000001,+15551234567", send_time=taipei_time(timedelta(hours=1))
    )
    assert (credit, sent, cost) == ("996.00", "2", "4.0")
    assert set((await soap.statuses(key, batch_id)).values()) == {"300"}
    erased = await soap.call("eraseBooking", ("sessionKey", key), ("batchID", batch_id))
    assert erased == "2,4.0"
    assert await soap.credit(key) == "1000.00"
    assert set((await soap.statuses(key, batch_id)).values()) == {"303"}
    soap.sim.advance(7200)  # cancelled stays cancelled
    key = await soap.key()
    assert set((await soap.statuses(key, batch_id)).values()) == {"303"}
    # Nothing left to erase / unknown batch / already sent: the null result.
    for target in (batch_id, "00000000-0000-4000-8000-000000000000"):
        status, _, data = await soap.post(
            envelope("eraseBooking", [("sessionKey", key), ("batchID", target)]),
            headers_for("eraseBooking"),
        )
        assert status == 200
        response = etree.fromstring(data).find(f".//{{{TEMPURI}}}eraseBookingResponse")
        assert response is not None
        assert len(response) == 0
    sent_now = (await soap.send(key, "0912000001"))[-1]
    assert await soap.call("eraseBooking", ("sessionKey", key), ("batchID", sent_now)) is None
    assert await soap.call("eraseBooking", ("sessionKey", "x"), ("batchID", sent_now)) == "-301"


async def test_advance_makes_scheduled_batch_go_out(soap: Soap) -> None:
    key = await soap.key()
    batch_id = (await soap.send(key, "0912000001", send_time=taipei_time(timedelta(hours=3))))[-1]
    soap.sim.advance(3600)
    assert await soap.statuses(key, batch_id) == {"0912000001": "300"}
    soap.sim.advance(2 * 3600 + 5)
    assert await soap.statuses(key, batch_id) == {"0912000001": "100"}
    assert await soap.call("eraseBooking", ("sessionKey", key), ("batchID", batch_id)) is None


async def test_large_batches_are_cheap(soap: Soap) -> None:
    service = soap.sim.every8d
    started = time.perf_counter()
    batch_id = service.create_batch("demo", (f"09{i:08d}" for i in range(100_000)))
    assert time.perf_counter() - started < 2.0
    key = await soap.key()
    service_time = []
    for page in ("1", "50", "100"):
        started = time.perf_counter()
        root = await soap.status(key, batch_id, page)
        service_time.append(time.perf_counter() - started)
        assert len(rows(root)) == 1000
    assert min(service_time) < 0.25  # a full HTTP round trip; the page itself is ~15 ms
    batch = service.batches[batch_id]
    assert rows(root)[-1].findtext("MOBILE") == batch.mobiles[-1] == "0900099999"


# ----------------------------------------------------------------------------- faults


async def test_fault_busy(soap: Soap) -> None:
    soap.sim.faults.busy(times=2)
    soap.sim.faults.busy()  # queued after the first rule
    await soap.credit("x")  # busy only applies to getConnection
    for _ in range(3):
        raw = await soap.text("getConnection", ("userID", "demo"), ("password", "demo-password"))
        assert "<CODE>-97</CODE>" in raw
    assert (await soap.login())[0] == "0"
    assert soap.sim.every8d.account("demo").failed_logins == 0
    assert [c.faults for c in soap.sim.every8d.calls] == [(), ("busy",), ("busy",), ("busy",), ()]


async def test_fault_drop_before_processing(soap: Soap) -> None:
    key = await soap.key()
    soap.sim.faults.drop(operation="sendSMS")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await soap.send(key, "0912000001")
    assert soap.sim.every8d.count("sendSMS") == 1
    assert soap.sim.every8d.batches == {}
    assert await soap.credit(key) == "1000.00"
    assert soap.sim.faults.pending == ()


async def test_fault_drop_after_processing_records_the_send(
    soap: Soap, caplog: pytest.LogCaptureFixture
) -> None:
    key = await soap.key()
    soap.sim.faults.drop(operation="sendSMS", after_processing=True, times=2)
    for _ in range(2):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await soap.send(key, "0912000001,0912000002")
    assert soap.sim.every8d.count("sendSMS") == 2
    assert len(soap.sim.every8d.batches) == 2
    assert await soap.credit(key) == "996.00"
    assert (await soap.send(key, "0912000003"))[:2] == ["995.00", "1"]
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR", "CRITICAL")]


async def test_fault_malformed(soap: Soap) -> None:
    soap.sim.faults.malformed(b"<not-soap>\xff", operation="getCredit", status=202)
    status, ctype, data = await soap.post(
        envelope("getConnection", [("userID", "demo"), ("password", "demo-password")]),
        headers_for("getConnection"),
    )
    assert status == 200  # a different operation is untouched
    status, ctype, data = await soap.post(
        envelope("getCredit", [("sessionKey", "x")]), headers_for("getCredit")
    )
    assert (status, ctype, data) == (202, "text/xml; charset=utf-8", b"<not-soap>\xff")
    soap.sim.faults.malformed(b"{}", content_type="application/json", status=500)
    status, ctype, data = await soap.post(
        envelope("getCredit", [("sessionKey", "x")]), headers_for("getCredit")
    )
    assert (status, ctype, data) == (500, "application/json", b"{}")
    assert await soap.credit("x") == "-301"


async def test_fault_http_error(soap: Soap) -> None:
    soap.sim.faults.http_error(503, times=2)
    for _ in range(2):
        status, ctype, data = await soap.post(
            envelope("getCredit", [("sessionKey", "x")]), headers_for("getCredit")
        )
        assert status == 503
        assert ctype.startswith("text/plain")
        assert b"Service Unavailable" in data
    assert await soap.credit("x") == "-301"


async def test_fault_delay_and_clear(soap: Soap) -> None:
    soap.sim.faults.delay(0.3, operation="getCredit")
    started = time.monotonic()
    await soap.login()
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    assert await soap.credit("x") == "-301"
    assert time.monotonic() - started >= 0.3
    soap.sim.faults.delay(5)
    soap.sim.faults.http_error(500)
    assert len(soap.sim.faults.pending) == 2
    soap.sim.faults.clear()
    started = time.monotonic()
    assert await soap.credit("x") == "-301"
    assert time.monotonic() - started < 0.25


async def test_delay_combines_with_one_action(soap: Soap) -> None:
    soap.sim.faults.delay(0.1)
    soap.sim.faults.http_error(502)
    soap.sim.faults.http_error(504)
    started = time.monotonic()
    status, _, _ = await soap.post(
        envelope("getCredit", [("sessionKey", "x")]), headers_for("getCredit")
    )
    assert status == 502
    assert time.monotonic() - started >= 0.1
    status, _, _ = await soap.post(
        envelope("getCredit", [("sessionKey", "x")]), headers_for("getCredit")
    )
    assert status == 504
    assert [c.faults for c in soap.sim.every8d.calls] == [("delay", "http_error"), ("http_error",)]


async def test_client_timeout_during_delay_and_prompt_close(http: aiohttp.ClientSession) -> None:
    sim = Simulator()
    await sim.start()
    soap = Soap(http, sim)
    key = await soap.key()
    sim.faults.delay(0.3, operation="sendSMS")
    with pytest.raises(asyncio.TimeoutError):
        async with asyncio.timeout(0.1):
            await soap.send(key, "0912000001")
    await asyncio.sleep(0.5)
    assert sim.every8d.count("sendSMS") == 1
    assert sim.every8d.batches == {}  # the client gave up, so the send was not carried out
    sim.faults.delay(30)
    pending = asyncio.create_task(soap.credit(key))
    for _ in range(50):
        if sim.every8d.count("getCredit"):
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await sim.aclose()
    await sim.aclose()  # safe twice
    assert time.monotonic() - started < 1.5
    with pytest.raises(aiohttp.ClientError):
        await pending
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_fault_arguments_are_checked() -> None:
    sim = Simulator()
    with pytest.raises(ValueError, match="times"):
        sim.faults.drop(times=0)
    with pytest.raises(ValueError, match="seconds"):
        sim.faults.delay(-1)
    with pytest.raises(ValueError, match="status"):
        sim.faults.http_error(42)
    with pytest.raises(TypeError):
        sim.faults.malformed("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seconds"):
        sim.advance(-5)


# ----------------------------------------------------------------------------- misc


async def test_simulator_lifecycle_and_standalone_service() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.url
    async with sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)
        await sim.start()  # already running: no-op
        assert sim.running
    assert not sim.running
    service = Every8dSoapService(clock=lambda: 1_000_000.0, delivery_time=0)
    batch_id = service.create_batch("demo", ["0912000001"])
    assert [r.status for r in service.recipients(batch_id)] == ["100"]
    assert service.recipients(batch_id)[0].send_at == datetime.fromtimestamp(1_000_000, TAIPEI)
    with pytest.raises(KeyError):
        service.create_batch("ghost", ["0912000001"])
