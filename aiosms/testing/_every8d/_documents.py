"""EVERY8D's result documents and the ``sendParamSMS`` recipients document.

The strings EVERY8D answers inside a call's result (what the SOAP API wraps in
``<opResult>``; the HTTP API answers some of them bare), and the reading of the
``<REPS><USER …>`` document a personalized send carries.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from decimal import Decimal

import attrs
from lxml import etree

from ..._soap import safe_fromstring
from ...errors import ResponseFormatError
from ._batch import Every8dBatch
from ._common import (
    DT_ERROR,
    MOBILE,
    MOBILE_ERROR,
    PARAM_ERROR,
    XML_DECLARATION,
    cdata_or_text,
    parse_send_time,
    reply_time_text,
    sent_time_text,
)

PAGE_SIZE = 1000
"""Recipients per page of ``getDeliveryStatus``."""

_LOGIN_DESCRIPTIONS: Mapping[str, str] = {
    "0": "取得連線成功",
    "-97": "系統忙碌中，請稍後再試",
    "-100": "取得連線失敗，無此帳號",
    "-101": "取得連線失敗，密碼錯誤",
    "-999": "帳號已封鎖，請洽服務窗口。認證錯誤超過 10 次將封鎖此服務。",
}


def login_result(code: str, key: str = "") -> str:
    """The ``getConnection`` result: ``<SMS><GET_CONNECTION><CODE>…`` for ``code``."""
    root = etree.Element("SMS")
    conn = etree.SubElement(root, "GET_CONNECTION")
    etree.SubElement(conn, "CODE").text = code
    etree.SubElement(conn, "SESSION_KEY").text = key
    etree.SubElement(conn, "DESCRIPTION").text = _LOGIN_DESCRIPTIONS[code]
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


def send_result(credit: Decimal, batch: Every8dBatch) -> str:
    """``CREDIT,SENDED,COST,UNSEND,BATCH_ID``, the answer to a send."""
    return f"{credit:.2f},{batch.sent},{batch.total_cost:.1f},{batch.unsent},{batch.batch_id}"


def status_document(batch: Every8dBatch | None, page: int, now: float) -> str:
    """The ``getDeliveryStatus`` result: ``<SMS_LOG>`` with page ``page`` of ``batch``.

    ``None`` (an unknown batch, or another account's) lists no one, COUNT 0.
    """
    sub = etree.SubElement
    root = etree.Element("SMS_LOG")
    sub(root, "CODE").text = "0"
    sub(root, "DESCRIPTION").text = "發送狀態查詢成功"
    total = len(batch) if batch is not None else 0
    listing = sub(root, "GET_DELIVERY_STATUS", COUNT=str(total))
    if batch is not None:
        sent_texts: dict[float, str] = {}
        start = (page - 1) * PAGE_SIZE
        for index in range(start, min(start + PAGE_SIZE, total)):
            send_at = batch.send_at(index)
            sent_text = sent_texts.get(send_at)
            if sent_text is None:
                sent_text = sent_texts[send_at] = sent_time_text(send_at)
            sms = sub(listing, "SMS")
            sub(sms, "NAME").text = batch.name(index)
            sub(sms, "MOBILE").text = batch.mobiles[index]
            sub(sms, "SENT_TIME").text = sent_text
            sub(sms, "COST").text = f"{batch.cost(index)}.00"
            sub(sms, "STATUS").text = batch.status(index, now)
            for at, text in batch.replies(index, now):
                reply = sub(sms, "REPLY_SMS")
                sub(reply, "REPLY_TIME").text = reply_time_text(at)
                sub(reply, "MESSAGE").text = cdata_or_text(text)
    return XML_DECLARATION + etree.tostring(root, encoding="unicode")


@attrs.frozen
class ParamUsers:
    """The recipients of a ``sendParamSMS`` document, column-wise.

    ``names``/``emails`` are ``None`` when no user gave one, ``send_ats`` when every
    user is sent at the batch's own time.
    """

    mobiles: list[str]
    texts: list[str]
    names: list[str] | None
    emails: list[str] | None
    send_ats: array[float] | None


def parse_param_users(content_xml: str, send_at: float, now: float) -> ParamUsers | str:
    """Read ``<REPS><USER NAME MOBILE EMAIL SENDTIME>text</USER>…</REPS>``.

    ``send_at`` is the batch's time, for users without a SENDTIME of their own.
    Returns the error result string (``-1``, ``-6`` or ``-306``) for a bad document.
    """
    try:
        root = safe_fromstring(content_xml.encode("utf-8"))
    except ResponseFormatError:
        return PARAM_ERROR
    if root.tag != "REPS":
        return PARAM_ERROR
    users = [child for child in root if child.tag == "USER"]
    if not users:
        return PARAM_ERROR
    mobiles: list[str] = []
    names: list[str] = []
    emails: list[str] = []
    texts: list[str] = []
    send_ats: array[float] = array("d")
    for user in users:
        mobile = (user.get("MOBILE") or "").strip()
        text = "".join(str(part) for part in user.itertext())
        if not mobile or not text:
            return PARAM_ERROR
        if not MOBILE.fullmatch(mobile):
            return MOBILE_ERROR + mobile
        own_time = user.get("SENDTIME") or ""
        user_send_at = parse_send_time(own_time, now) if own_time.strip() else send_at
        if user_send_at is None:
            return DT_ERROR
        mobiles.append(mobile)
        names.append(user.get("NAME") or "")
        emails.append(user.get("EMAIL") or "")
        texts.append(text)
        send_ats.append(user_send_at)
    return ParamUsers(
        mobiles=mobiles,
        texts=texts,
        names=names if any(names) else None,
        emails=emails if any(emails) else None,
        send_ats=send_ats if any(t != send_at for t in send_ats) else None,
    )
