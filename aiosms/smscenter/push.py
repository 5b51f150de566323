"""SMSCenter's delivery notifications: the pure parser, and the receiver built on it.

SMSCenter calls (GET) a URL the customer configures for each delivery event, filling in
the tokens it holds: ``{MsgID}`` (the ``MessageID`` the SOAP send returned),
``{MSISDN}``, ``{StatusCode}``, ``{StatusDes}``, ``{ReasonCode}``, ``{ReasonDes}`` and
``{Dlr_ddmmyyyyhhmmss}`` (when, Israel time). :func:`notification_url` writes that URL
for you::

    receiver = SmsCenterPushReceiver(token=secrets.token_urlsafe(32))
    receiver.add_to(app, "/sms/push")
    print(receiver.notification_url("https://you.example/sms/push"))   # paste it into SMSCenter

SMSCenter takes a call as handled only when the answer's body contains ``_OK_``; it
retries any other for up to three days. The receiver answers ``200 _OK_`` once every
subscriber has the report, and a refusal (403, 400, 503) never contains ``_OK_``, so a
report no subscriber could take is sent again.

By default the query parameters are named like the tokens (names are read in any
letter case; the spec also spells the date token ``Dlr_ddmmyyyhhmmss``, which is read
too). ``params=`` maps tokens to other names, for a URL written by hand, e.g. the
spec's sample ``…?MessageID={MsgID}&Date={Dlr_ddmmyyyhhmmss}&Status={StatusDes}…`` is
``params={"MsgID": "MessageID", "Dlr_ddmmyyyyhhmmss": "Date", "StatusDes": "Status"}``.

Use it as :class:`aiosms.webhooks.SmsCenterPushReceiver`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from types import MappingProxyType
from typing import Final
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from ..errors import InvalidRequestError, ResponseFormatError
from ..models import DeliveryReport, Details
from ..webhooks import _TOKEN_RULE, Answer, PushCall, PushReceiver
from .codes import PROVIDER, describe
from .numbers import normalize_number

__all__ = [
    "DEFAULT_PARAMS",
    "ISRAEL",
    "TOKENS",
    "SmsCenterPushParser",
    "SmsCenterPushReceiver",
    "notification_url",
    "parse_notification",
    "parse_notification_time",
]

ISRAEL: Final = ZoneInfo("Asia/Jerusalem")

TOKENS: Final = (
    "MsgID",
    "MSISDN",
    "StatusCode",
    "StatusDes",
    "ReasonCode",
    "ReasonDes",
    "Dlr_ddmmyyyyhhmmss",
)
"""The tokens SMSCenter fills in, in the order :func:`notification_url` writes them."""

_DATE: Final = "Dlr_ddmmyyyyhhmmss"
_DATE_ALIAS: Final = "Dlr_ddmmyyyhhmmss"  # the spec's other spelling

DEFAULT_PARAMS: Final[Mapping[str, str]] = MappingProxyType({t: t for t in TOKENS})
"""Token -> query parameter name: by default, each is named like its token."""

_LIMITS: Final = {
    "MsgID": 64,
    "MSISDN": 64,
    "StatusCode": 9,
    "ReasonCode": 9,
    "StatusDes": 1000,
    "ReasonDes": 1000,
    _DATE: 20,
}
_MAX_PARAMS: Final = 100  # parameters a call may carry, known ones and others
_NAME_LIMIT: Final = 100


def _refuse(why: str) -> ResponseFormatError:
    return ResponseFormatError(f"unexpected SMSCenter notification: {why}", provider=PROVIDER)


def _token(name: object) -> str:
    """A token as :data:`TOKENS` spells it, from ``MsgID``, ``{msgid}``, …"""
    if isinstance(name, str):
        bare = name.strip().removeprefix("{").removesuffix("}").casefold()
        if bare == _DATE_ALIAS.casefold():
            return _DATE
        for token in TOKENS:
            if token.casefold() == bare:
                return token
    raise InvalidRequestError(f"params: {name!r:.40} is not one of the tokens {', '.join(TOKENS)}")


def _names(params: Mapping[str, str] | None) -> dict[str, str]:
    """Token -> parameter name, ``params`` over the defaults, checked."""
    names = dict(DEFAULT_PARAMS)
    for token, name in (params or {}).items():
        if not (isinstance(name, str) and 0 < len(name) <= _NAME_LIMIT and name.isprintable()):
            raise InvalidRequestError(f"params: the name for {token!r:.40} is not a short text")
        names[_token(token)] = name
    folded = [n.casefold() for n in names.values()]
    if len(set(folded)) != len(folded) or "token" in folded:
        raise InvalidRequestError("params: two tokens share a name, or one is named 'token'")
    return names


def _lookup(names: Mapping[str, str]) -> dict[str, str]:
    """Case-folded parameter name -> token (the date also under its other spelling)."""
    found = {name.casefold(): token for token, name in names.items()}
    if names[_DATE] == _DATE:
        found.setdefault(_DATE_ALIAS.casefold(), _DATE)
    return found


_DEFAULT_LOOKUP: Final = _lookup(DEFAULT_PARAMS)


def parse_notification_time(value: str) -> datetime | None:
    """``{Dlr_ddmmyyyyhhmmss}``, ``05032015142530`` (Israel time) → an aware datetime;
    ``None`` when empty.

    Raises:
        ResponseFormatError: it is not 14 digits of a real date and time.
    """
    value = value.strip()
    if not value:
        return None
    if len(value) != 14 or not (value.isascii() and value.isdigit()):
        raise _refuse(f"the date {value[:20]!r} is not ddmmyyyyhhmmss")
    try:
        return datetime(
            int(value[4:8]),
            int(value[2:4]),
            int(value[:2]),
            int(value[8:10]),
            int(value[10:12]),
            int(value[12:]),
            tzinfo=ISRAEL,
        )
    except ValueError:
        raise _refuse(f"the date {value!r} is not a real date") from None


def _read(query: Mapping[str, str], lookup: Mapping[str, str]) -> dict[str, str]:
    """The tokens' values (stripped), checked for type and length; others ignored."""
    if len(query) > _MAX_PARAMS:
        raise _refuse(f"more than {_MAX_PARAMS} parameters")
    values: dict[str, str] = {}
    for name, value in query.items():
        if not isinstance(name, str) or len(name) > _NAME_LIMIT:
            continue
        token = lookup.get(name.casefold())
        if token is None:
            continue
        if not isinstance(value, str) or len(value) > _LIMITS[token] + 100:
            raise _refuse(f"{token} is not a short text")
        value = value.strip()
        if len(value) > _LIMITS[token]:
            raise _refuse(f"{token} of {len(value)} characters")
        if values.setdefault(token, value) != value:
            raise _refuse(f"{token} given twice, differently")
    return values


def _code(values: Mapping[str, str], token: str, *, required: bool) -> str:
    code = values.get(token, "")
    if not code and not required:
        return ""
    if not (code.isascii() and code.isdigit()):
        raise _refuse(f"{token} {code[:20]!r} is not a number")
    return code


def _mobile(msisdn: str) -> str:
    """``msisdn`` as ``+972541234567`` when it is Israeli, as given otherwise."""
    try:
        return normalize_number(msisdn)
    except InvalidRequestError:
        return msisdn


def parse_notification(
    query: Mapping[str, str], *, params: Mapping[str, str] | None = DEFAULT_PARAMS
) -> DeliveryReport:
    """The report one delivery notification carries (pure).

    ``query`` is the call's query parameters; ``params`` maps tokens to the names they
    go by (see :data:`DEFAULT_PARAMS`; tokens it leaves out keep their own names).
    The report's ``batch_id`` is ``MsgID`` (the send's ``MessageID``), ``mobile`` the
    ``MSISDN`` (``+972…`` when Israeli), ``state`` and ``description`` come from
    :func:`~aiosms.smscenter.codes.describe`, ``status`` is the status code,
    ``reported_at`` the ``Dlr`` date, and ``details`` holds ``reason_code``,
    ``reason`` (``ReasonDes``) and ``status_description`` (``StatusDes``) where given.

    Raises:
        ResponseFormatError: no ``MsgID`` or ``MSISDN``, a status code that is not a
            number, a bad date, an oversized value, or one given twice differently.
        InvalidRequestError: ``params`` names a token that does not exist.
    """
    lookup = _DEFAULT_LOOKUP if params is DEFAULT_PARAMS else _lookup(_names(params))
    return _report(_read(query, lookup))


def _report(values: Mapping[str, str]) -> DeliveryReport:
    msg_id, msisdn = values.get("MsgID", ""), values.get("MSISDN", "")
    if not msg_id or not msisdn:
        raise _refuse("without MsgID or MSISDN")
    if not (msg_id.isprintable() and msisdn.isprintable()):
        raise _refuse("MsgID or MSISDN holds control characters")
    status = _code(values, "StatusCode", required=True)
    reason = _code(values, "ReasonCode", required=False)
    at = parse_notification_time(values.get(_DATE, ""))
    state, description = describe(status, reason or None)
    reason_text, status_text = values.get("ReasonDes", ""), values.get("StatusDes", "")
    if (
        reason.lstrip("0") == "999" and reason_text
    ):  # "send the provider message": it is in ReasonDes
        description += f": {reason_text}"
    details = {
        "reason_code": reason,
        "reason": reason_text,
        "status_description": status_text,
    }
    return DeliveryReport(
        msg_id,
        None,
        _mobile(msisdn),
        "",
        state,
        status,
        description,
        None,
        None,
        (),
        at,
        Details({k: v for k, v in details.items() if v}),
    )


def notification_url(
    base_url: str,
    *,
    token: str | None = None,
    params: Mapping[str, str] | None = None,
    tokens: Iterable[str] = TOKENS,
) -> str:
    """The URL to give SMSCenter: ``base_url`` with a parameter for each token, e.g.
    ``https://you.example/sms/push?MsgID={MsgID}&MSISDN={MSISDN}&…&token=<token>``.

    The tokens are left as they are for SMSCenter to fill in; names and the token are
    percent-encoded; a query already in ``base_url`` is kept. ``tokens`` picks the
    tokens to ask for (``MsgID``, ``MSISDN`` and ``StatusCode`` are needed): leave out
    ``StatusDes`` and ``ReasonDes``, texts with spaces, should SMSCenter fill them in
    without percent-encoding them (the codes carry the same news).

    Raises:
        InvalidRequestError: ``base_url`` is not an absolute http(s) URL without a
            fragment, ``token`` is weak, or ``params`` or ``tokens`` is malformed.
    """
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequestError(f"base_url must be an http(s) URL, not {base_url!r:.60}")
    if parts.fragment or "#" in base_url:
        raise InvalidRequestError("base_url must have no #fragment (it would hide the query)")
    if token is not None and not (isinstance(token, str) and _TOKEN_RULE.fullmatch(token)):
        raise InvalidRequestError(
            "token must be at least 16 of A-Z a-z 0-9 - . _ ~ (e.g. secrets.token_urlsafe(32))"
        )
    names = _names(params)
    wanted = {_token(t) for t in ([tokens] if isinstance(tokens, str) else tokens)}
    if not {"MsgID", "MSISDN", "StatusCode"} <= wanted:
        raise InvalidRequestError("tokens must include MsgID, MSISDN and StatusCode")
    pairs = [f"{quote(names[t], safe='')}={{{t}}}" for t in TOKENS if t in wanted]
    if token is not None:
        pairs.append(f"token={quote(token, safe='')}")
    query = "&".join(pairs)
    if parts.query:
        separator = "" if base_url.endswith("&") else "&"
    else:
        separator = "" if base_url.endswith("?") else "?"
    return f"{base_url}{separator}{query}"


class SmsCenterPushParser:
    """The :class:`~aiosms.webhooks.PushParser` for SMSCenter: a GET whose query names
    the tokens, answered ``200 _OK_``.

    Args:
        params: token -> query parameter name, where the URL names them differently
            (see :func:`parse_notification`).
    """

    __slots__ = ("_lookup", "params")
    provider = PROVIDER
    methods = ("GET",)
    success = Answer(200, "_OK_")

    def __init__(self, *, params: Mapping[str, str] | None = None) -> None:
        names = _names(params)
        self.params: Mapping[str, str] = MappingProxyType(names)
        self._lookup = _lookup(names)

    def __repr__(self) -> str:
        changed = {t: n for t, n in self.params.items() if n != t}
        return f"SmsCenterPushParser(params={changed!r})"

    def parse(self, call: PushCall) -> list[DeliveryReport]:
        """The one report of ``call`` (see :func:`parse_notification`)."""
        return [_report(_read(call.query, self._lookup))]


class SmsCenterPushReceiver(PushReceiver[DeliveryReport]):
    """Answers SMSCenter's delivery notifications and fans their reports out.

    Args:
        token: a secret the calls must carry (``?token=…`` or the URL's last segment);
            see :class:`~aiosms.webhooks.PushReceiver`. :meth:`notification_url` puts
            it in the URL for you.
        allow_from: the networks calls may come from.
        params: token -> query parameter name, where the URL names them differently.
        backlog: how many recent reports are kept for subscriptions that start later.
        buffer: reports a subscriber may fall behind by before calls are refused (503).

    Attributes:
        received: how many calls were accepted (a repeated call counts again).
        refused: how many calls were answered with an error.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        allow_from: Iterable[str | IPv4Network | IPv6Network] | None = None,
        params: Mapping[str, str] | None = None,
        backlog: int = 10_000,
        buffer: int = 1_000,
    ) -> None:
        self._smscenter = SmsCenterPushParser(params=params)
        super().__init__(
            self._smscenter, token=token, allow_from=allow_from, backlog=backlog, buffer=buffer
        )

    @property
    def params(self) -> Mapping[str, str]:
        """Token -> the query parameter name it goes by."""
        return self._smscenter.params

    def notification_url(self, base_url: str, *, tokens: Iterable[str] = TOKENS) -> str:
        """The URL to give SMSCenter for this receiver, at ``base_url`` (where you
        :meth:`add_to` it), with its token and parameter names (see
        :func:`notification_url`)."""
        token = None if self._token is None else self._token.decode("ascii")
        return notification_url(base_url, token=token, params=self.params, tokens=tokens)
