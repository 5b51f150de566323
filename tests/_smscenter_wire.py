"""Hand-written SMSCenter wire for the simulator's tests: SOAP envelopes and forms
over raw aiohttp (never the aiosms client)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import aiohttp
from lxml import etree

from aiosms.testing import (
    Simulator,
)

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "http://www.smscenter.co.il/"
PREPAID_NS = "http://www.smscenter.co.il/Web/WebServices/"
SEND = "/Web/WebServices/SendMessage.aspx"
IVR = "/Web/WebServices/SendIVRMessage.aspx"
PREPAID = "/web/webservices/CheckPrePaid.asmx"
PUSH = "/Web/pushsms.aspx"
DEMO = {"Username": "demo", "Password": "demo-password"}
ISRAEL = ZoneInfo("Asia/Jerusalem")
OK_NUMBERS = "+972541234560,054-1234561,0541234562"  # last digits 0-2: delivered


def envelope(operation: str, params: dict[str, str], ns: str, version: str) -> bytes:
    env = SOAP11 if version == "1.1" else SOAP12
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in params.items())
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{env}">'
        f'<soap:Body><{operation} xmlns="{ns}">{inner}</{operation}></soap:Body>'
        "</soap:Envelope>"
    ).encode()


def soap_headers(operation: str, ns: str, version: str) -> dict[str, str]:
    if version == "1.1":
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ns}{operation}"'}
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{ns}{operation}"'}


async def post_soap(
    sim: Simulator, path: str, operation: str, params: dict[str, str], *, ns: str = NS,
    version: str = "1.1", session: aiohttp.ClientSession | None = None,
) -> tuple[int, bytes]:  # fmt: skip
    body = envelope(operation, params, ns, version)
    headers = soap_headers(operation, ns, version)
    own = session is None
    http = aiohttp.ClientSession() if session is None else session
    try:
        async with http.post(sim.url + path, data=body, headers=headers) as resp:
            return resp.status, await resp.read()
    finally:
        if own:
            await http.close()


async def soap(
    sim: Simulator, path: str, operation: str, *, ns: str = NS, version: str = "1.1",
    session: aiohttp.ClientSession | None = None, **params: str,
) -> etree._Element:  # fmt: skip
    """The ``<operationResult>`` element of a successful call."""
    status, data = await post_soap(
        sim, path, operation, params, ns=ns, version=version, session=session
    )
    assert status == 200, data
    response = etree.fromstring(data).find(f".//{{{ns}}}{operation}Response")
    assert response is not None, data
    result = response.find(f"{{{ns}}}{operation}Result")
    assert result is not None, data
    return result


def fields(element: etree._Element, ns: str = NS) -> dict[str, str]:
    """Child elements (all in ``ns``) → text."""
    found = {}
    for child in element:
        qname = etree.QName(child)
        assert qname.namespace == ns, child.tag
        found[qname.localname] = child.text or ""
    return found


async def send(sim: Simulator, numbers: str, text: str = "hi", **params: str) -> dict[str, str]:
    args = {**DEMO, "SenderName": "Shop", "SendToPhoneNumbers": numbers, "Message": text}
    return fields(await soap(sim, SEND, "SendMessageReturnMessageID", **{**args, **params}))


async def balance(sim: Simulator, **login: str) -> dict[str, str]:
    result = await soap(sim, PREPAID, "CheckCompanyPrePaid", ns=PREPAID_NS, **(login or DEMO))
    return fields(result, PREPAID_NS)


async def push(sim: Simulator, method: str = "GET", **params: str) -> str:
    query = {"UserName": "demo", "Password": "demo-password", "Sender": "Shop", **params}
    async with aiohttp.ClientSession() as http:
        if method == "GET":
            request = http.get(sim.url + PUSH, params=query)
        else:
            request = http.post(sim.url + PUSH, data=query)
        async with request as resp:
            assert resp.status == 200
            assert resp.content_type == "text/plain"
            return await resp.text()


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
