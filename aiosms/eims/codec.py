"""The EIMS JSON HTTP gateway: requests and replies, as pure functions.

The authentication fields (plain or MD5-signed), the result codes, balance, sends
(split into requests of 10,000 numbers; personalized ones as ``smsarray``) and the
task reply. Reports and inbound messages are :mod:`aiosms.eims.reports`; tasks,
:mod:`aiosms.eims.jobs`.

``build_*`` functions check their arguments (raising :class:`InvalidRequestError`) and
return JSON-ready dicts without the authentication fields, which :func:`auth_fields`
adds per request; ``parse_*`` functions take the reply's bytes and return models or
raise the error the reply's ``status`` means. Every parse is one ``json.loads`` (linear,
in C) and one pass over what it returned; a reply that is not the shape the spec gives
is a :class:`ResponseFormatError`, never a ``KeyError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NoReturn

import attrs

from ..errors import (
    AccountBlockedError,
    AuthenticationError,
    InsufficientCreditError,
    InvalidRequestError,
    ProviderError,
    ResponseFormatError,
)

__all__ = [
    "MAX_CONTENT",
    "MAX_INBOUND",
    "MAX_REPORT_IDS",
    "MAX_SEND_NUMBERS",
    "PROVIDER",
    "EimsText",
    "SendPart",
    "auth_fields",
    "build_personalized_parts",
    "build_send_parts",
    "check_numbers",
    "parse_balance",
    "parse_job",
    "parse_send",
    "parse_stamp",
    "sign",
]

PROVIDER: Final = "eims"
MAX_SEND_NUMBERS: Final = 10_000
"""Numbers one POST to ``/sendsms`` may carry."""
MAX_REPORT_IDS: Final = 200
"""Ids one ``/getreport`` may ask for."""
MAX_CONTENT: Final = 1024
"""Characters of a message's content."""
MAX_INBOUND: Final = 50
"""Messages one ``/getsms`` returns at most; a full answer means ask again at once."""

_STATUS_TEXT: Final[Mapping[int, str]] = {
    -1: (
        "the gateway refused the account and password: check both, and for a signed "
        "account the key and this machine's clock (the request's time must be within "
        "minutes of the gateway's); not retried"
    ),
    -2: (
        "the gateway does not accept this account from this machine's IP address: ask "
        "its operator to allow the address your requests come from (a proxy's or NAT's)"
    ),
    -3: "the content holds sensitive words",
    -4: "the content is empty",
    -5: "the content is too long",
    -6: "not a template SMS",
    -7: "too many numbers",
    -8: "no number",
    -9: "an abnormal number",
    -10: "the channel balance cannot cover this send",
    -11: "the time is wrong",
    -12: "batch commit error on the platform; contact the administrator",
    -13: "the account is locked on the gateway: ask its operator to unlock it",
    -14: "abnormal number source",
    -15: "the task name is empty or longer than 64 characters",
    -16: "the task type is abnormal",
    -17: "another error",
}

# ---------------------------------------------------------------------------- auth


def sign(account: str, password: str, seq: int, time: int, key: str) -> str:
    """The signed ``password`` field: ``md5(account + password + seq + time + key)``, hex."""
    data = f"{account}{password}{seq}{time}{key}".encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def auth_fields(
    account: str, password: str, *, key: str | None = None, seq: int = 0, time: int = 0
) -> dict[str, Any]:
    """``account`` and ``password`` for one request: the plain password, or, with
    ``key``, the signature of this request's ``seq`` (each request its own, from 1 up)
    and ``time`` (its Unix timestamp), which are sent beside it."""
    if key is None:
        return {"account": account, "password": password}
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidRequestError("seq starts at 1 and counts up, one per request")
    return {
        "account": account,
        "password": sign(account, password, seq, time, key),
        "seq": seq,
        "time": time,
    }


# ---------------------------------------------------------------------------- replies


def _malformed(what: str, body: bytes | str, why: str = "") -> ResponseFormatError:
    text = body if isinstance(body, str) else body[:120].decode("utf-8", "replace")
    shown = " ".join(text[:80].split())
    detail = f" ({why})" if why else ""
    return ResponseFormatError(f"unexpected {what} reply{detail}: {shown!r}", provider=PROVIDER)


def _load(body: bytes, what: str) -> dict[str, Any]:
    """The reply as a JSON object whose ``status`` is 0; raise what a non-zero one means."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError, huge int texts
        raise _malformed(what, body, "not JSON") from None
    if not isinstance(data, dict):
        raise _malformed(what, body, "not a JSON object")
    status = data.get("status")
    if isinstance(status, str) and len(status) < 12 and status.strip().lstrip("-").isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool):
        raise _malformed(what, body, "no status")
    if status != 0:
        _raise_for_status(status, what)
    return data


def _raise_for_status(status: int, what: str) -> NoReturn:
    text = _STATUS_TEXT.get(status, f"{what} refused")
    kw: dict[str, Any] = {"provider": PROVIDER, "code": str(status)}
    if status == -1:
        raise AuthenticationError(text, **kw)
    if status == -13:
        raise AccountBlockedError(text, **kw)
    if status == -10:
        raise InsufficientCreditError(text, **kw)
    raise ProviderError(text, **kw)


def _text(value: object, what: str, body: bytes) -> str:
    """A JSON number or string as text (ids and numbers come as either)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _malformed(what, body, f"{type(value).__name__} where a number or text belongs")


def parse_balance(body: bytes) -> tuple[Decimal, Decimal]:
    """``(balance, gift)`` as Decimals from ``/getbalance``."""
    data = _load(body, "getbalance")
    out = []
    for name in ("balance", "gift"):
        raw = data.get(name, "0" if name == "gift" else None)  # a gift may go unsaid
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise _malformed("getbalance", body, f"{name} is not a number")
        try:
            amount = Decimal(str(raw).strip())
        except InvalidOperation:
            raise _malformed("getbalance", body, f"{name} is not a number") from None
        if not amount.is_finite() or len(str(raw)) > 40:
            raise _malformed("getbalance", body, f"{name} is not a number")
        out.append(amount)
    return out[0], out[1]


# ---------------------------------------------------------------------------- sending


@attrs.frozen
class SendPart:
    """One ``/sendsms`` POST of a bulk send: its numbers (in order) and its JSON body
    without the authentication fields."""

    numbers: tuple[str, ...]
    body: Mapping[str, Any] = attrs.field(repr=False)


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text:
        raise InvalidRequestError("the content must be a non-empty str")
    if len(text) > MAX_CONTENT:
        raise InvalidRequestError(
            f"EIMS takes at most {MAX_CONTENT} characters of content; this has {len(text)}"
        )
    return text


def check_numbers(numbers: Iterable[str]) -> list[str]:
    """The numbers, stripped, each once, in order; InvalidRequestError for anything
    that is not one (empty, not a str, holding a comma or whitespace)."""
    if isinstance(numbers, str):
        numbers = [numbers]
    if type(numbers) is list and numbers and set(map(type, numbers)) == {str}:
        # The usual list, plain ASCII digits: checked in a few passes in C.
        digits = "".join(numbers)  # bytes.isdigit() is ASCII-only and ten times faster
        plain = digits.isascii() and digits.encode().isdigit() and all(numbers)
        if plain and max(map(len, numbers)) <= 32:
            return list(dict.fromkeys(numbers))
    unique: dict[str, None] = {}
    for number in numbers:
        if not isinstance(number, str):
            raise InvalidRequestError(f"a number must be a str, not {number!r:.40}")
        stripped = number.strip()
        if not stripped or len(stripped) > 32 or "," in stripped or len(stripped.split()) != 1:
            raise InvalidRequestError(f"not a number: {number!r:.40}")
        unique[stripped] = None
    if not unique:
        raise InvalidRequestError("give at least one number")
    return list(unique)


def _item_fields(
    *, sender: str | None, mms_title: str | None, at: datetime | None, tz: tzinfo
) -> dict[str, Any]:
    fields: dict[str, Any] = {"smstype": 0}
    if mms_title is not None:
        if not isinstance(mms_title, str) or not mms_title.strip():
            raise InvalidRequestError("an MMS needs a non-empty title")
        fields.update(smstype=1, mmstitle=mms_title)
    if sender is not None:
        if not isinstance(sender, str) or not sender.strip():
            raise InvalidRequestError(f"sender must be a non-empty str, not {sender!r}")
        fields["sender"] = sender
    if at is not None:
        if not isinstance(at, datetime) or at.utcoffset() is None:
            raise InvalidRequestError("at must be a timezone-aware datetime")
        fields["sendtime"] = f"{at.astimezone(tz):%Y%m%d%H%M%S}"
    return fields


def build_send_parts(
    text: str,
    numbers: Iterable[str],
    *,
    sender: str | None = None,
    at: datetime | None = None,
    mms_title: str | None = None,
    tz: tzinfo = UTC,
    part_size: int = MAX_SEND_NUMBERS,
) -> list[SendPart]:
    """The POSTs a send of ``text`` to ``numbers`` takes: 10,000 numbers each.

    A number listed twice is sent once. ``at`` (aware) is written as ``sendtime`` in
    the gateway's zone ``tz``; ``mms_title`` makes it an MMS (``smstype=1``,
    ``mmstitle``).
    """
    common = {"content": _check_text(text)}
    common.update(_item_fields(sender=sender, mms_title=mms_title, at=at, tz=tz))
    unique = check_numbers(numbers)
    parts = []
    for start in range(0, len(unique), part_size):
        chunk = tuple(unique[start : start + part_size])
        parts.append(SendPart(chunk, {**common, "numbers": ",".join(chunk)}))
    return parts


@attrs.frozen
class EimsText:
    """One message of :meth:`~aiosms.EimsClient.send_personalized`: its own text to
    one number or several, and optionally its own sender, or an MMS title."""

    to: str | Sequence[str]
    text: str
    sender: str | None = None
    mms_title: str | None = None


def build_personalized_parts(
    items: Iterable[EimsText], *, part_size: int = MAX_SEND_NUMBERS
) -> list[SendPart]:
    """The ``smsarray`` POSTs of a personalized send, at most 10,000 numbers each (an
    item with more is split across POSTs). A number may appear in one item only: the
    gateway answers with numbers, so two items to one number could not be told apart."""
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InvalidRequestError("items must be a list of EimsText")
    parts: list[SendPart] = []
    rows: list[dict[str, Any]] = []
    numbers: list[str] = []
    owner: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, EimsText):
            raise InvalidRequestError(f"items[{index}] must be an EimsText, not {item!r:.60}")
        fields = {"content": _check_text(item.text)}
        fields.update(_item_fields(sender=item.sender, mms_title=item.mms_title, at=None, tz=UTC))
        mine = check_numbers(item.to)
        for number in mine:
            if owner.setdefault(number, index) != index:
                raise InvalidRequestError(
                    f"{number} is in items[{owner[number]}] and items[{index}]: send those "
                    "in separate calls (the gateway's answer names numbers, not items)"
                )
        start = 0
        while start < len(mine):
            taken = mine[start : start + part_size - len(numbers)]
            start += len(taken)
            rows.append({**fields, "numbers": ",".join(taken)})
            numbers.extend(taken)
            if len(numbers) == part_size:
                parts.append(SendPart(tuple(numbers), {"smsarray": rows}))
                rows, numbers = [], []
    if numbers:
        parts.append(SendPart(tuple(numbers), {"smsarray": rows}))
    if not parts:
        raise InvalidRequestError("give at least one item")
    return parts


def _digits(number: str) -> str:
    """A number as the gateway may echo it: a JSON number drops a ``+`` and leading 0s."""
    return number.lstrip("+").lstrip("0")


def _column(values: tuple[Any, ...]) -> list[str] | None:
    """A column of JSON numbers (or of non-empty strings) as text; None for a mix."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(map(str, values))
    if kinds == {str} and all(values):
        return list(map(str.strip, values))
    return None


def _read_ids(rows: list[Any], numbers: Sequence[str]) -> dict[str, str] | None:
    """The usual answer, column by column in C: ``[number, id]`` pairs, each column all
    JSON numbers or all strings, every number one that was sent, each once. None for
    anything else, which :func:`parse_send` then reads row by row."""
    if not rows:
        return {}
    if set(map(type, rows)) != {list}:
        return None
    try:
        echoed, message_ids = zip(*rows, strict=True)  # every row [number, id]
    except ValueError:
        return None
    ids = _column(message_ids)
    if ids is None:
        return None
    if len(echoed) == len(numbers) and list(map(str, echoed)) == list(numbers):
        # All accepted, in the order sent (the usual answer): the comparison is the check.
        return dict(zip(numbers, ids, strict=True))
    texts = _column(echoed)
    if texts is None:
        return None
    found = dict(zip(texts, ids, strict=True))
    if len(found) != len(texts) or not found.keys() <= set(numbers):
        return None  # echoed without a leading 0, or twice: matched one by one
    return found


def parse_send(body: bytes, numbers: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``(number -> message id, numbers the gateway did not accept)`` of one part.

    The reply's ``array`` holds ``[number, id]`` pairs, numbers or strings; a number
    echoed as a JSON number (``912345678`` for ``"0912345678"``) is matched to the one
    sent. A number of the part that is not among them was not accepted, and is
    reported, not lost; one that was not sent at all makes the reply unreadable.
    """
    data = _load(body, "sendsms")
    rows = data.get("array", [])
    if not isinstance(rows, list) or len(rows) > len(numbers):
        raise _malformed("sendsms", body, "array is not a list of the numbers sent")
    fast = _read_ids(rows, numbers)
    if fast is not None:
        if len(fast) == len(numbers):
            return fast, []
        return fast, [number for number in numbers if number not in fast]
    sent = set(numbers)
    ids: dict[str, str] = {}
    others: dict[str, list[str]] | None = None  # by _digits(), made when first needed
    for row in rows:
        if type(row) is not list or len(row) < 2:
            raise _malformed("sendsms", body, "a row is not [number, id]")
        number, message_id = row[0], row[1]
        if type(number) is not str:
            number = _text(number, "sendsms", body)
        if type(message_id) is not str or not message_id:
            message_id = _text(message_id, "sendsms", body)
        if number not in sent or number in ids:
            if others is None:
                others = {}
                for one in numbers:
                    if one not in ids:
                        others.setdefault(_digits(one), []).append(one)
            candidates = others.get(_digits(number.strip()), [])
            while candidates and candidates[0] in ids:
                candidates.pop(0)
            if not candidates:
                raise _malformed("sendsms", body, f"an id for {number[:20]!r}, not sent")
            number = candidates.pop(0)
        ids[number] = message_id
    if len(ids) == len(numbers):
        return ids, []
    return ids, [number for number in numbers if number not in ids]


def parse_job(body: bytes) -> str:
    """The id of the task ``/smsjob`` created."""
    data = _load(body, "smsjob")
    job_id = data.get("jobid")
    if job_id is None or job_id == "":
        raise _malformed("smsjob", body, "no jobid")
    return _text(job_id, "smsjob", body)


def _int(value: object, what: str, body: bytes) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    raise _malformed(what, body, f"{value!r:.30} is not a whole number")


def parse_stamp(text: str, tz: tzinfo) -> datetime | None:
    """The gateway's ``20171001123015`` in zone ``tz``; ``""``/``"0"`` → None.

    Raises ``ValueError`` for anything else (callers say which reply it was in).
    """
    if not text or text == "0":
        return None
    if len(text) != 14 or not text.isdigit():
        raise ValueError(text)
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=tz)


def _time(value: object, what: str, body: bytes, tz: tzinfo) -> datetime | None:
    text = _text(value, what, body)
    try:
        return parse_stamp(text, tz)
    except ValueError:
        raise _malformed(what, body, f"time {text[:20]!r}") from None
