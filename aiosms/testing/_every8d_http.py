"""The EVERY8D HTTP API 2.1 endpoints (``…/API21/HTTP/*.ashx``), simulated.

Only the endpoints live here: :class:`Every8dHttpService` reads a request (a query
string or a UTF-8 form), checks ``UID``/``PWD`` against the
:class:`~aiosms.testing.Every8dWorld` it shares with the SOAP endpoint, calls the
world's operation and answers its result as plain text, under the same fault queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import parse_qsl

import attrs
from aiohttp import web

from ._every8d import Every8dAccount, Every8dWorld
from ._faults import FaultPlan, Faults

__all__ = ["Every8dHttpCall", "Every8dHttpService"]

_MARKER: Final = "/api21/http/"
# The request path after /API21/HTTP/ (lower case) -> the operation name faults use.
_OPERATIONS: Final[Mapping[str, str]] = {
    "sendsms.ashx": "sendSMS.ashx",
    "mms/sendmms.ashx": "MMS/sendMMS.ashx",
    "getdeliverystatus.ashx": "getDeliveryStatus.ashx",
    "mms/getdeliverystatus.ashx": "MMS/getDeliveryStatus.ashx",
    "getcredit.ashx": "getCredit.ashx",
    "erasebooking.ashx": "eraseBooking.ashx",
    "mms/erasebooking.ashx": "MMS/eraseBooking.ashx",
}
_TEXT: Final = {"Content-Type": "text/plain; charset=utf-8"}


def _params_repr(params: Mapping[str, str]) -> str:
    return repr({k: ("***" if k.upper() == "PWD" else v) for k, v in params.items()})


@attrs.frozen
class Every8dHttpCall:
    """One HTTP API call the service received (``service.calls``).

    Attributes:
        operation: ``"sendSMS.ashx"``, ``"MMS/sendMMS.ashx"``, ``"getDeliveryStatus.ashx"``,
            ``"MMS/getDeliveryStatus.ashx"``, ``"getCredit.ashx"``, ``"eraseBooking.ashx"``
            or ``"MMS/eraseBooking.ashx"`` (the names :class:`~aiosms.testing.Faults`
            rules take; distinct from the SOAP operations').
        params: query and form parameters together (``PWD`` hidden from ``repr``).
        method: ``"GET"`` or ``"POST"``.
        path: the request path (shows an enterprise prefix such as ``/acme/API21/…``).
        query_keys: the names that came in the URL's query string (a client that keeps
            the password out of URLs leaves ``PWD`` out of them).
        faults: the injected faults that applied, e.g. ``("drop",)``.
        at: when it arrived, on the simulator clock (epoch seconds).
    """

    operation: str
    params: Mapping[str, str] = attrs.field(repr=_params_repr)
    method: str = "POST"
    path: str = ""
    query_keys: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    at: float = 0.0


class Every8dHttpService:
    """The EVERY8D HTTP API endpoints: ``GET`` or ``POST …/API21/HTTP/<operation>.ashx``.

    They answer under any prefix (``http://host/<company>/API21/HTTP/…``),
    case-insensitively, on the :class:`~aiosms.testing.Every8dWorld` given: one credit
    balance and one set of batches with the SOAP endpoint (an SMS batch sent by either
    shows in both's reports; MMS batches only in the MMS queries). A
    :class:`~aiosms.testing.Simulator` mounts one as ``sim.every8d_http``.

    Every call checks ``UID``/``PWD`` (``-100`` no such account, ``-101`` wrong
    password, the 10th in a row blocks the account, ``-999``). Status pages are
    TAB-separated text, 1,000 rows a page (``PNO``); ``report_columns = 6`` adds the
    sixth column newer services send, ``pad_reports = True`` pads fields with spaces,
    ends lines with ``\\r\\n`` and adds empty lines.

    Attributes:
        world: the EVERY8D world served.
        faults: the fault queue (rules name the operations of :class:`Every8dHttpCall`).
        calls: every call received, oldest first.
        report_columns: 5 (the spec's) or 6.
        pad_reports: write padded pages.
    """

    name = "every8d_http"

    def __init__(self, *, world: Every8dWorld, faults: Faults | None = None) -> None:
        self.world = world
        self.faults = faults if faults is not None else Faults()
        self.calls: list[Every8dHttpCall] = []
        self.report_columns = 5
        self.pad_reports = False

    def __repr__(self) -> str:
        return f"Every8dHttpService(calls={len(self.calls)})"

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` were received (faulted ones included)."""
        return sum(1 for call in self.calls if call.operation == operation)

    def matches(self, path: str) -> bool:
        """True for ``…/API21/HTTP/…`` under any prefix (case-insensitive)."""
        return _MARKER in path.lower()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one HTTP request to the endpoints."""
        if request.method not in ("GET", "POST"):
            return web.Response(status=405, text="405 Method Not Allowed\n")
        tail = request.path.lower().split(_MARKER, 1)[1]
        operation = _OPERATIONS.get(tail)
        if operation is None:
            return web.Response(status=404, text=f"404 Not Found: {request.path}\n")
        params = dict(request.query)
        if request.method == "POST":
            body = (await request.read()).decode("utf-8", "replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        plan = self.faults.take(operation)
        self._record(request, operation, params, plan)
        run = self._operation(operation)

        def process() -> web.StreamResponse:
            code, account = self.world.authenticate(params.get("UID", ""), params.get("PWD", ""))
            text = code if account is None else run(account, params)
            return web.Response(text=text or "", headers=_TEXT)

        return await self.faults.serve(request, plan, process)

    def _record(
        self, request: web.Request, operation: str, params: dict[str, str], plan: FaultPlan
    ) -> None:
        self.calls.append(
            Every8dHttpCall(
                operation=operation,
                params=params,
                method=request.method,
                path=request.path,
                query_keys=tuple(request.query),
                faults=plan.names,
                at=self.world.now(),
            )
        )

    def _operation(
        self, operation: str
    ) -> Callable[[Every8dAccount, Mapping[str, str]], str | None]:
        world = self.world

        def send(account: Every8dAccount, p: Mapping[str, str]) -> str:
            return world.send_sms(
                account,
                content=p.get("MSG", ""),
                mobile=p.get("DEST", ""),
                subject=p.get("SB", ""),
                send_time=p.get("ST", ""),
                retry_time=p.get("RETRYTIME", ""),
                operation="sendSMS.ashx",
            )

        def send_mms(account: Every8dAccount, p: Mapping[str, str]) -> str:
            return world.send_mms(
                account,
                content=p.get("MSG", ""),
                mobile=p.get("DEST", ""),
                attachment=p.get("ATTACHMENT", ""),
                image_type=p.get("TYPE", ""),
                subject=p.get("SB", ""),
                send_time=p.get("ST", ""),
                retry_time=p.get("RETRYTIME", ""),
            )

        def report(kind: str) -> Callable[[Every8dAccount, Mapping[str, str]], str]:
            return lambda account, p: world.tab_report(
                account,
                p.get("BID", ""),
                p.get("PNO", ""),
                kind=kind,
                columns=self.report_columns,
                padded=self.pad_reports,
            )

        def cancel(kind: str) -> Callable[[Every8dAccount, Mapping[str, str]], str | None]:
            return lambda account, p: world.erase_booking(account, p.get("BID", ""), kind)

        table: dict[str, Callable[[Every8dAccount, Mapping[str, str]], str | None]] = {
            "sendSMS.ashx": send,
            "MMS/sendMMS.ashx": send_mms,
            "getDeliveryStatus.ashx": report("sms"),
            "MMS/getDeliveryStatus.ashx": report("mms"),
            "getCredit.ashx": lambda account, p: world.get_credit(account),
            "eraseBooking.ashx": cancel("sms"),
            "MMS/eraseBooking.ashx": cancel("mms"),
        }
        return table[operation]
