"""The EIMS JSON HTTP gateway, simulated.

:class:`EimsWorld` keeps accounts (plain or signed authentication), balances, the
messages sent and how they progress, inbound messages and scheduled tasks;
:class:`EimsService` answers ``/getbalance``, ``/sendsms``, ``/getreport``, ``/getsms``
and ``/smsjob`` on it, by GET (query) or POST (JSON body), with the gateway's own
result codes and the simulator's fault queue, and pushes final reports by PUT.

An independent model of the wire: it never imports the client's codec.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any, Final

import aiohttp
import attrs
from aiohttp import web

from ._faults import Faults
from ._push import PushOutbox

__all__ = ["EimsAccount", "EimsCall", "EimsMessage", "EimsService", "EimsWorld"]

_PATHS: Final = ("/getbalance", "/sendsms", "/getreport", "/getsms", "/smsjob")
_MAX_POST_NUMBERS: Final = 10_000
_MAX_GET_NUMBERS: Final = 100
_MAX_IDS: Final = 200
_MAX_INBOUND: Final = 50
_MAX_PUSH: Final = 50
_CLOCK_SKEW: Final = 300  # seconds a signed request's time may be off
_GOLDEN: Final = 0.6180339887498949
# /smsjob: the fields each task type requires, and their ranges.
_JOB_FIELDS: Final[Mapping[int, tuple[str, ...]]] = {
    0: (), 1: (), 2: ("interval", "min", "hour", "day"), 3: ("min", "hour", "day"),
    4: ("min", "hour", "week"), 5: ("min", "hour", "day", "mon"),
}  # fmt: skip
_JOB_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "interval": (1, 10**6), "min": (0, 59), "hour": (0, 23), "day": (1, 31),
    "week": (1, 7), "mon": (1, 12),
}  # fmt: skip


def _json(data: Mapping[str, Any]) -> web.Response:
    return web.Response(text=json.dumps(data), content_type="application/json", charset="utf-8")


def default_fate(number: str) -> tuple[int, int | None]:
    """``(send status, deliver status)`` a message to ``number`` ends in, by its last
    digit: 0–6 delivered (0, 3), 7 not delivered (0, 2), 8 not sent: black number
    (1011), 9 delivery timed out (0, 4)."""
    last = number[-1:]
    if last == "7":
        return 0, 2
    if last == "8":
        return 1011, None
    if last == "9":
        return 0, 4
    return 0, 3


@attrs.define
class EimsAccount:
    """A simulated EIMS account. With ``key``, requests must be signed
    (``md5(account + password + seq + time + key)``, each ``seq`` used once)."""

    account: str
    password: str = attrs.field(repr=False)
    key: str | None = attrs.field(default=None, repr=False)
    balance: Decimal = Decimal(1000)
    gift: Decimal = Decimal(0)
    deliver_reports: bool = True
    """Report rows carry a fifth field, the deliver status (the 2020 option)."""
    allow_from: tuple[str, ...] | None = None
    """Client addresses the account may be used from (others: ``-2``); None: any."""
    locked: bool = False
    """A locked account is refused with ``-13``."""
    seqs: set[int] = attrs.field(factory=set, repr=False)
    inbound: list[tuple[int, str, float, str]] = attrs.field(factory=list, repr=False)
    inbound_read: int = 0


@attrs.define
class EimsMessage:
    """One message sent to one number."""

    id: int
    account: str
    number: str
    content: str
    send_at: float
    final_at: float
    fate: tuple[int, int | None]
    pushed: bool = False


@attrs.frozen
class EimsCall:
    """One call the service received: operation (the path without ``/``), parameters
    (the password hidden from repr), method, and the faults that applied."""

    operation: str
    params: Mapping[str, Any] = attrs.field(
        repr=lambda p: repr({k: ("***" if k == "password" else v) for k, v in p.items()})
    )
    method: str = "POST"
    faults: tuple[str, ...] = ()


async def _put(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> bool:
    async with session.put(url, json=body) as resp:
        return resp.status == 200


class EimsWorld:
    """Everything the EIMS gateway keeps. A default account ``demo`` /
    ``demo-password`` (plain authentication, balance 1000) exists.

    Args:
        delivery_time: seconds a message takes from sent to final (staggered per id).
        clock: the simulator time, epoch seconds.
        tz: the gateway's zone, for ``sendtime`` and the times it reports.

    Attributes:
        fate: ``fate(number) -> (send status, deliver status)``; see :func:`default_fate`.
        push_url: where final reports are PUT (``None``: nowhere).
        accounts, messages: by name and by id.
    """

    def __init__(
        self,
        *,
        delivery_time: float = 0.2,
        clock: Callable[[], float] | None = None,
        tz: tzinfo = UTC,
    ) -> None:
        self.delivery_time = delivery_time
        self.tz = tz
        self._clock = clock or time.time
        self.fate: Callable[[str], tuple[int, int | None]] = default_fate
        self.accounts: dict[str, EimsAccount] = {}
        self.messages: dict[int, EimsMessage] = {}
        self.jobs: list[dict[str, Any]] = []
        self.push_url: str | None = None
        self._outbox: PushOutbox[dict[str, Any]] = PushOutbox(_put, tries=3)
        self.add_account("demo", "demo-password")

    def now(self) -> float:
        return self._clock()

    def stamp(self, when: float) -> int:
        """``when`` as the gateway writes times: ``20171001123015`` in its zone."""
        return int(datetime.fromtimestamp(when, self.tz).strftime("%Y%m%d%H%M%S"))

    def add_account(self, account: str, password: str, **kwargs: Any) -> EimsAccount:
        """Create (or replace) an account (``key=``, ``balance=``, ``deliver_reports=``)."""
        self.accounts[account] = made = EimsAccount(account, password, **kwargs)
        return made

    def add_inbound(self, account: str, number: str, text: str) -> int:
        """A message ``number`` sends to ``account``; returns its id."""
        holder = self.accounts[account]
        message_id = len(holder.inbound) + 1
        holder.inbound.append((message_id, number, self.now(), text))
        return message_id

    # ------------------------------------------------------------------ auth

    def authenticate(self, params: Mapping[str, Any], remote: str = "") -> EimsAccount | int:
        """The account the request's fields prove, or the status code refusing it."""
        account = self.accounts.get(str(params.get("account", "")))
        if account is None:
            return -1
        if account.allow_from is not None and remote not in account.allow_from:
            return -2
        if account.locked:
            return -13
        given = str(params.get("password", ""))
        if account.key is None:
            return account if given == account.password else -1
        try:
            seq, stamp = int(params.get("seq", 0)), int(params.get("time", 0))
        except (TypeError, ValueError):
            return -1
        data = f"{account.account}{account.password}{seq}{stamp}{account.key}".encode()
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if given != expected or seq < 1 or seq in account.seqs:
            return -1
        if abs(stamp - self.now()) > _CLOCK_SKEW:
            return -1
        account.seqs.add(seq)
        return account

    # ------------------------------------------------------------------ operations

    def balance(self, account: EimsAccount) -> dict[str, Any]:
        return {"status": 0, "balance": f"{account.balance:.6f}", "gift": f"{account.gift:.5f}"}

    def send(
        self, account: EimsAccount, params: Mapping[str, Any], *, post: bool
    ) -> dict[str, Any]:
        items = params.get("smsarray")
        if not isinstance(items, list):
            items = [params]
        rows: list[list[Any]] = []
        fail = 0
        planned = []
        total = 0
        for item in items:
            if not isinstance(item, Mapping):
                return {"status": -17}
            content = str(item.get("content", ""))
            numbers = [n.strip() for n in str(item.get("numbers", "")).split(",") if n.strip()]
            if not content:
                return {"status": -4}
            if len(content) > 1024:
                return {"status": -5}
            if not numbers:
                return {"status": -8}
            if str(item.get("smstype", 0)) not in ("0", "1"):
                return {"status": -17}
            if str(item.get("smstype", 0)) == "1" and not str(item.get("mmstitle", "")):
                return {"status": -17}  # an MMS needs its title
            total += len(numbers)
            planned.append((content, numbers, str(item.get("sendtime", "") or "")))
        if total > (_MAX_POST_NUMBERS if post else _MAX_GET_NUMBERS):
            return {"status": -7}
        good = sum(1 for _, numbers, _ in planned for n in numbers if n.isdigit())
        if account.balance < good:
            return {"status": -10}
        now = self.now()
        for content, numbers, sendtime in planned:
            send_at = now
            if sendtime:
                try:
                    when = datetime.strptime(sendtime, "%Y%m%d%H%M%S").replace(tzinfo=self.tz)
                except ValueError:
                    return {"status": -11}
                send_at = max(now, when.timestamp())
            for number in numbers:
                if not number.isdigit():
                    fail += 1
                    continue
                message_id = len(self.messages) + 1
                spread = 0.5 + (message_id * _GOLDEN) % 1.0
                self.messages[message_id] = EimsMessage(
                    message_id, account.account, number, content, send_at,
                    send_at + self.delivery_time * spread, self.fate(number),
                )  # fmt: skip
                account.balance -= 1
                rows.append([int(number) if len(number) < 16 else number, message_id])
        return {"status": 0, "success": len(rows), "fail": fail, "array": rows}

    def status(self, message: EimsMessage, now: float) -> tuple[int, int | None]:
        """(send, deliver) of ``message`` at ``now``: unsent, sending, sent, then final."""
        if now < message.send_at:
            return 1, 0
        if now < message.send_at + (message.final_at - message.send_at) / 2:
            return 2, 0
        if now < message.final_at:
            return (0, 1) if message.fate[0] == 0 else (2, 0)
        send, deliver = message.fate
        return send, (deliver if deliver is not None else 0)

    def report(self, account: EimsAccount, ids_text: str) -> dict[str, Any]:
        ids = [part.strip() for part in ids_text.split(",") if part.strip()]
        if not ids:
            return {"status": -17}
        if len(ids) > _MAX_IDS:
            return {"status": -7}
        now = self.now()
        rows = []
        for text in ids:
            message = self.messages.get(int(text)) if text.isdigit() else None
            if message is None or message.account != account.account:
                continue
            send, deliver = self.status(message, now)
            stamp = self.stamp(message.send_at)
            row: list[Any] = [message.id, int(message.number), stamp, send]
            if account.deliver_reports:
                row.append(deliver)
            rows.append(row)
        return {"status": 0, "nofound": len(ids) - len(rows), "array": rows}

    def inbound(self, account: EimsAccount, start_time: object = None) -> dict[str, Any]:
        """The next messages not handed out yet, 50 at most; with ``start_time`` (Unix
        seconds), only those received from then on (the others stay unread)."""
        try:
            since = float(str(start_time)) if start_time not in (None, "") else None
        except ValueError:
            return {"status": -11}
        unread = account.inbound[account.inbound_read :]
        if since is not None:
            account.inbound_read += sum(1 for _ in itertools.takewhile(
                lambda m: m[2] < since, unread))  # fmt: skip
            unread = account.inbound[account.inbound_read :]
        batch = unread[:_MAX_INBOUND]
        account.inbound_read += len(batch)
        rows = [
            [i, int(n), self.stamp(t),
             base64.b64encode(text.encode()).decode()]
            for i, n, t, text in batch
        ]  # fmt: skip
        return {"status": 0, "cnt": len(rows), "array": rows}

    def create_job(self, account: EimsAccount, params: Mapping[str, Any]) -> dict[str, Any]:
        name = str(params.get("job", ""))
        if not 1 <= len(name) <= 64:
            return {"status": -15}
        kind = params.get("jobtype", 0)
        if kind not in (0, 1, 2, 3, 4, 5):
            return {"status": -16}
        if not str(params.get("content", "")):
            return {"status": -4}
        source, numbers = params.get("numbersrc", 0), str(params.get("numbers", ""))
        if source not in (0, 1) or not numbers:
            return {"status": -14}
        if source == 1 and not numbers.split("?")[0].lower().endswith(".xls"):
            return {"status": -14}  # an .xls file only, never .xlsx
        if source == 0 and len(numbers.encode()) > 4 * 1024:
            return {"status": -7}
        for field in _JOB_FIELDS[kind]:
            low, high = _JOB_RANGES[field]
            value = params.get(field)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return {"status": -11}
        if kind == 1 and not isinstance(params.get("planstarttm"), int):
            return {"status": -11}
        self.jobs.append({k: v for k, v in params.items() if k != "password"})
        return {"status": 0, "jobid": len(self.jobs)}

    # ------------------------------------------------------------------ pushes

    @property
    def pushes(self) -> list[dict[str, Any]]:
        """Every push answered 200, oldest first (the JSON body sent)."""
        return self._outbox.delivered

    def due_pushes(self) -> list[dict[str, Any]]:
        """Report bodies owed now: each message once it is final, 50 a body."""
        now = self.now()
        rows = []
        for message in self.messages.values():
            if not message.pushed and now >= message.final_at:
                message.pushed = True
                send, deliver = message.fate
                ok = send == 0 and deliver == 3
                stamp = self.stamp(message.send_at)
                cause = "success" if ok else f"failed ({send}/{deliver})"
                rows.append([message.id, message.number, stamp, 0 if ok else 1, cause])
        return [
            {"type": "report", "cnt": len(chunk), "array": chunk}
            for chunk in (rows[i : i + _MAX_PUSH] for i in range(0, len(rows), _MAX_PUSH))
        ]

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        url = self.push_url
        if url is None:
            return 0
        return await self._outbox.flush(session, url, self.due_pushes())


class EimsService:
    """The EIMS gateway's endpoints on an :class:`EimsWorld`: ``/getbalance``,
    ``/sendsms``, ``/getreport``, ``/getsms``, ``/smsjob`` (fault rules name them
    without the slash: ``"sendsms"``)."""

    name = "eims"

    def __init__(self, *, world: EimsWorld, faults: Faults | None = None) -> None:
        self.world = world
        self.faults = faults if faults is not None else Faults()
        self.calls: list[EimsCall] = []

    @property
    def push_source(self) -> EimsWorld:
        return self.world

    def count(self, operation: str) -> int:
        return sum(1 for call in self.calls if call.operation == operation)

    def matches(self, path: str) -> bool:
        return path.lower() in _PATHS

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return web.Response(status=405, headers={"Allow": "GET, POST"})
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    return web.Response(status=400, text="the body is not JSON")
                if not isinstance(body, dict):
                    return web.Response(status=400, text="the body is not a JSON object")
                params.update(body)
        operation = request.path.lower().lstrip("/")
        plan = self.faults.take(operation)
        self.calls.append(EimsCall(operation, params, request.method, plan.names))
        world = self.world

        def process() -> web.StreamResponse:
            account = world.authenticate(params, request.remote or "")
            if isinstance(account, int):
                return _json({"status": account})
            if operation == "getbalance":
                return _json(world.balance(account))
            if operation == "sendsms":
                return _json(world.send(account, params, post=request.method == "POST"))
            if operation == "getreport":
                return _json(world.report(account, str(params.get("ids", ""))))
            if operation == "getsms":
                return _json(world.inbound(account, params.get("start_time")))
            return _json(world.create_job(account, params))

        return await self.faults.serve(request, plan, process)
