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
from aiohttp import hdrs, web

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
_FORM: Final = "application/x-www-form-urlencoded"


def _is_utf8_form(request: web.Request) -> bool:
    """A POST body this endpoint reads: a URL-encoded form in UTF-8 (no Content-Type, or
    no charset, is taken as that too)."""
    if hdrs.CONTENT_TYPE not in request.headers:
        return True
    charset = (request.charset or "utf-8").lower()
    return request.content_type == _FORM and charset in ("utf-8", "utf8")


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
    balance and one set of batches with the SOAP endpoint (an SMS batch sent by either,
    or seeded with ``create_batch``, shows in both's reports; MMS batches only in the
    MMS queries, SMS batches never in them). A :class:`~aiosms.testing.Simulator`
    mounts one as ``sim.every8d_http``.

    Parameters come in the query string (``GET``) or the query string and a UTF-8
    ``application/x-www-form-urlencoded`` body (``POST``; a body in another type or
    charset is answered 415), their names in any case. Another method is answered 405,
    an unknown ``.ashx`` 404; everything else is HTTP 200, ``text/plain; charset=utf-8``:

    * ``sendSMS.ashx`` (``UID PWD SB MSG DEST ST RETRYTIME``) and ``MMS/sendMMS.ashx``
      (the same, plus ``ATTACHMENT``, the picture in base64, and ``TYPE``,
      jpg/jpeg/png/gif): ``CREDIT,SENDED,COST,UNSEND,BATCH_ID`` or ``-code,message``;
      an MMS costs 3 points a recipient and goes to Taiwanese numbers only (see
      :meth:`Every8dWorld.send_mms`);
    * ``getDeliveryStatus.ashx`` and ``MMS/getDeliveryStatus.ashx`` (``BID PNO``): the
      TAB-separated page (:func:`~aiosms.testing._every8d._http.tab_report`), ``0``
      for a batch unknown there, ``-1,…`` for a ``PNO`` that is not a positive number;
    * ``getCredit.ashx``: ``1000.00``;
    * ``eraseBooking.ashx`` and ``MMS/eraseBooking.ashx`` (``BID``): ``count,refund``,
      or an empty body when nothing was left to cancel.

    Every call checks ``UID``/``PWD`` (no session keys): ``-100`` no such account,
    ``-101`` wrong password (the 10th in a row blocks the account), ``-999`` blocked.

    Status pages are 1,000 rows a page; ``report_columns = 6`` adds a sixth column (the
    recipient's record number) as newer services send one, ``pad_reports = True`` pads
    fields with spaces, ends lines with ``\\r\\n`` and adds empty lines.

    Faults: each call draws ``faults.take(operation)`` with the operation names of
    :class:`Every8dHttpCall` (there is no "busy" answer in this API).

    Attributes:
        world: the EVERY8D world served.
        faults: the fault queue (rules name the operations of :class:`Every8dHttpCall`).
        calls: every call received, oldest first (405, 404 and 415 answers are not).
    """

    name = "every8d_http"

    def __init__(self, *, world: Every8dWorld, faults: Faults | None = None) -> None:
        self.world = world
        self.faults = faults if faults is not None else Faults()
        self.calls: list[Every8dHttpCall] = []
        self._columns = 5
        self._padded = False

    @property
    def report_columns(self) -> int:
        """Fields per status row: 5 (the spec's) or 6 (a record number added)."""
        return self._columns

    @report_columns.setter
    def report_columns(self, value: int) -> None:
        if value not in (5, 6) or isinstance(value, bool):
            raise ValueError(f"report_columns must be 5 or 6, not {value!r}")
        self._columns = value

    @property
    def pad_reports(self) -> bool:
        """Write padded status pages (spaces around fields, CRLF, empty lines)."""
        return self._padded

    @pad_reports.setter
    def pad_reports(self, value: bool) -> None:
        self._padded = bool(value)

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
            return web.Response(
                status=405, text="405 Method Not Allowed\n", headers={"Allow": "GET, POST"}
            )
        tail = request.path.lower().split(_MARKER, 1)[1]
        operation = _OPERATIONS.get(tail)
        if operation is None:
            return web.Response(status=404, text=f"404 Not Found: {request.path}\n")
        params = dict(request.query)
        if request.method == "POST":
            if not _is_utf8_form(request):
                return web.Response(
                    status=415,
                    text="415 Unsupported Media Type: send application/x-www-form-urlencoded"
                    " in UTF-8\n",
                )
            body = (await request.read()).decode("utf-8", "replace")
            params.update(parse_qsl(body, keep_blank_values=True))
        plan = self.faults.take(operation)
        self._record(request, operation, params, plan)
        run = self._operation(operation)
        # ASP.NET's Request["UID"] ignores the case of the name.
        named = {key.upper(): value for key, value in params.items()}

        def process() -> web.StreamResponse:
            code, account = self.world.authenticate(named.get("UID", ""), named.get("PWD", ""))
            text = code if account is None else run(account, named)
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
