"""EVERY8D Web Services 2.1: requests and results, as pure functions.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return an :class:`Operation`: the SOAP operation name and its parameters; with the
session key added (:meth:`Operation.with_key`) they are ready for
:func:`aiosms._soap.build_envelope`. ``parse_*`` functions take the operation's result
string (already unwrapped from the envelope) and return models or raise the error the
result's code means.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
from lxml import etree

from .._soap import parse_inner_xml
from ..errors import InvalidRequestError
from ..models import DeliveryReport, Personalized, Reply
from ._common import (
    ReportPage,
    check_error,
    check_text,
    format_send_time,
    malformed,
    normalize_recipients,
    parse_credit,
    parse_decimal,
    parse_erase_booking,
    parse_int,
    parse_send,
    parse_time,
    validity_minutes,
)
from .codes import PROVIDER, describe_status, raise_for_code

__all__ = [
    "PAGE_SIZE",
    "SERVICE_PATH",
    "Operation",
    "ReportPage",
    "build_close_connection",
    "build_content_xml",
    "build_erase_booking",
    "build_get_connection",
    "build_get_credit",
    "build_get_delivery_status",
    "build_send",
    "build_send_personalized",
    "parse_close_connection",
    "parse_connection",
    "parse_credit",
    "parse_delivery_status",
    "parse_erase_booking",
    "parse_send",
]

SERVICE_PATH = "/API21/SOAP/SMS.asmx"
PAGE_SIZE = 1000
MAX_REPLIES = 1000
"""Replies one report may carry; a page with more is refused as not EVERY8D's."""


@attrs.frozen
class Operation:
    """One SOAP call, checked and ready but for the session key.

    Attributes:
        name: the SOAP operation.
        params: its (name, value) parameters after ``sessionKey``; left out of the repr
            because ``getConnection``'s hold the password.
        idempotent: whether repeating it is harmless (sends and cancels are not).
        needs_session: whether ``sessionKey`` goes first (all but ``getConnection``).
    """

    name: str
    params: tuple[tuple[str, str], ...] = attrs.field(repr=False)
    idempotent: bool = True
    needs_session: bool = True

    def with_key(self, session_key: str) -> tuple[tuple[str, str], ...]:
        """The full parameter list, with ``sessionKey`` first where it needs one."""
        if not self.needs_session:
            return self.params
        return (("sessionKey", session_key), *self.params)


# ---------------------------------------------------------------------------- builders


def build_get_connection(user_id: str, password: str) -> Operation:
    """``getConnection``: log in and get a session key."""
    check_text("user_id", user_id, required=True)
    check_text("password", password, required=True, secret=True)
    params = (("userID", user_id), ("password", password))
    return Operation("getConnection", params, idempotent=True, needs_session=False)


def build_close_connection() -> Operation:
    """``closeConnection``: end the session."""
    return Operation("closeConnection", (), idempotent=False)


def build_send(
    text: str,
    to: str | Iterable[str],
    *,
    subject: str = "",
    at: datetime | None = None,
    validity: timedelta | None = None,
) -> Operation:
    """``sendSMS``, or ``sendMessage`` with ``retryTime`` when ``validity`` is given."""
    check_text("text", text, required=True)
    check_text("subject", subject, required=False)
    params = [
        ("subject", subject),
        ("content", text),
        ("mobile", ",".join(normalize_recipients(to))),
        ("sendTime", format_send_time(at)),
    ]
    if validity is None:
        return Operation("sendSMS", tuple(params), idempotent=False)
    params.append(("retryTime", validity_minutes(validity)))
    return Operation("sendMessage", tuple(params), idempotent=False)


def build_content_xml(items: Sequence[Personalized]) -> str:
    """The ``contentXML`` of ``sendParamSMS``: ``<REPS><USER …><![CDATA[text]]></USER></REPS>``.

    Text is wrapped in CDATA as the specification asks; text that contains ``]]>`` (which
    no CDATA section can hold) or a carriage return (which a parser turns into a line feed
    inside CDATA) is written as escaped character data instead, which any XML parser reads
    back identically.
    """
    if isinstance(items, Personalized):
        items = [items]
    if not items:
        raise InvalidRequestError("send_personalized needs at least one item")
    reps = etree.Element("REPS")
    for i, item in enumerate(items):
        if not isinstance(item, Personalized):
            raise InvalidRequestError(
                f"items[{i}] must be an aiosms.Personalized, not {type(item).__name__}"
            )
        check_text(f"items[{i}].text", item.text, required=True)
        check_text(f"items[{i}].name", item.name, required=False)
        check_text(f"items[{i}].email", item.email, required=False)
        if len(item.name) > 50:
            raise InvalidRequestError(f"items[{i}].name is longer than 50 characters")
        if not isinstance(item.to, str):
            raise InvalidRequestError(f"items[{i}].to must be one mobile number (a str)")
        (mobile,) = normalize_recipients(item.to)
        if mobile.startswith("09") and len(mobile) == 10:
            # The spec asks for +886 form here, or the points are counted wrongly.
            mobile = "+886" + mobile[1:]
        user = etree.SubElement(reps, "USER")
        user.set("NAME", item.name)
        user.set("MOBILE", mobile)
        user.set("EMAIL", item.email)
        user.set("SENDTIME", format_send_time(item.at, f"items[{i}].at"))
        # CDATA cannot hold "]]>", and a parser turns a raw "\r" in it into "\n".
        cdata_safe = "]]>" not in item.text and "\r" not in item.text
        user.text = etree.CDATA(item.text) if cdata_safe else item.text
    return etree.tostring(reps, encoding="unicode")


def build_send_personalized(
    items: Sequence[Personalized],
    *,
    subject: str = "",
    at: datetime | None = None,
) -> Operation:
    """``sendParamSMS``: one text (and optionally time) per recipient."""
    check_text("subject", subject, required=False)
    params = (
        ("subject", subject),
        ("contentXML", build_content_xml(items)),
        ("sendTime", format_send_time(at)),
    )
    return Operation("sendParamSMS", params, idempotent=False)


def build_get_delivery_status(batch_id: str, page: int = 1) -> Operation:
    """``getDeliveryStatus``: page ``page`` (1-based, 1,000 rows each) of a batch."""
    check_text("batch_id", batch_id, required=True)
    if page < 1:
        raise InvalidRequestError("page numbers start at 1")
    params = (("batchID", batch_id), ("pageNo", str(page)))
    return Operation("getDeliveryStatus", params)


def build_get_credit() -> Operation:
    """``getCredit``: the account's remaining credit."""
    return Operation("getCredit", ())


def build_erase_booking(batch_id: str) -> Operation:
    """``eraseBooking``: cancel what is still scheduled in a batch."""
    check_text("batch_id", batch_id, required=True)
    return Operation("eraseBooking", (("batchID", batch_id),), idempotent=False)


# ---------------------------------------------------------------------------- parsers


def parse_connection(result: str) -> str:
    """The session key from a ``getConnection`` result (raises on CODE != 0)."""
    result = result.strip()
    check_error(result)
    root = parse_inner_xml(result, provider=PROVIDER)
    conn = root.find("GET_CONNECTION")
    if conn is None:
        raise malformed("getConnection", result)
    code = (conn.findtext("CODE") or "").strip()
    if code != "0":
        if not code:
            raise malformed("getConnection", result)
        raise_for_code(code, conn.findtext("DESCRIPTION") or "")
    key = (conn.findtext("SESSION_KEY") or "").strip()
    if not key:
        raise malformed("getConnection (no SESSION_KEY)", result)
    return key


def parse_close_connection(result: str) -> bool:
    """True when ``closeConnection`` answered ``1``."""
    return result.strip() == "1"


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _reply(el: etree._Element, mobile: str, batch_id: str) -> Reply:
    when = ""
    text = ""
    for child in el:
        tag = child.tag
        if tag == "REPLY_TIME":
            when = child.text or ""
        elif tag == "MESSAGE":
            text = _text(child)
    return Reply(mobile, text, parse_time(when), None, batch_id)


def parse_delivery_status(result: str, batch_id: str) -> ReportPage:
    """One page of ``getDeliveryStatus``: the batch's COUNT and typed reports."""
    stripped = result.strip()
    check_error(stripped)
    root = parse_inner_xml(stripped, provider=PROVIDER)
    if root.tag != "SMS_LOG":
        raise malformed("getDeliveryStatus", stripped)
    code = (root.findtext("CODE") or "").strip()
    if code != "0":
        if not code:
            raise malformed("getDeliveryStatus (no CODE)", stripped)
        raise_for_code(code, root.findtext("DESCRIPTION") or "")
    status = root.find("GET_DELIVERY_STATUS")
    if status is None:
        return ReportPage(count=0, reports=[])
    count = parse_int(status.get("COUNT", "0"), "getDeliveryStatus COUNT", stripped)
    reports = []
    # Hot loop (1,000 rows a page): texts are read inline, and each distinct COST text
    # is turned into a Decimal once per page (Decimals are immutable, so sharing is safe).
    costs: dict[str, Decimal] = {}
    for row, sms in enumerate(status.iterchildren("SMS")):
        if row == PAGE_SIZE:
            # A page holds 1,000 rows at most; a longer one is not EVERY8D's, and reading
            # it would cost the event loop time in proportion to whatever was sent.
            raise malformed(f"getDeliveryStatus (more than {PAGE_SIZE} rows)", stripped)
        name = mobile = sent = cost = code = ""
        reply_els = None
        for child in sms:
            tag = child.tag
            if tag == "STATUS":
                code = (child.text or "").strip()
            elif tag == "MOBILE":
                mobile = (child.text or "").strip()
            elif tag == "SENT_TIME":
                sent = child.text or ""
            elif tag == "COST":
                cost = (child.text or "").strip()
            elif tag == "NAME":
                name = (child.text or "").strip()
            elif tag == "REPLY_SMS":
                if reply_els is None:
                    reply_els = [child]
                elif len(reply_els) < MAX_REPLIES:
                    reply_els.append(child)
                else:
                    raise malformed(f"getDeliveryStatus (over {MAX_REPLIES} replies)", stripped)
        amount = None
        if cost:
            amount = costs.get(cost)
            if amount is None:
                amount = costs[cost] = parse_decimal(cost, "getDeliveryStatus COST", stripped)
        state, description = describe_status(code)
        replies = tuple(_reply(el, mobile, batch_id) for el in reply_els) if reply_els else ()
        # Positional arguments, in DeliveryReport's field order: measurably faster here.
        reports.append(
            DeliveryReport(
                batch_id,
                None,
                mobile,
                name,
                state,
                code,
                description,
                parse_time(sent),
                amount,
                replies,
            )
        )
    return ReportPage(count=count, reports=reports)
