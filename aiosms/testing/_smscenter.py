"""SMSCenter's endpoints, simulated: the SOAP web services (send, IVR, prepaid) and the
HTTP push (``pushsms.aspx``), on one :class:`~aiosms.testing.SmsCenterWorld`.

Only the wire lives here: paths, argument types, result shapes, the call log and the
fault queue; what the operations do is the world's (:mod:`._smscenter_world`). An
independent model of the wire: it never imports the client's codec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import attrs
from aiohttp import web

from .._soap import SoapVersion
from ._faults import FaultPlan, Faults
from ._smscenter_model import SmsCenterAccount
from ._smscenter_world import SmsCenterWorld
from ._soap_service import SoapChildren, SoapFault, SoapOperation, SoapRequest, serve_soap

__all__ = [
    "IVR_PATH",
    "NAMESPACE",
    "PREPAID_NAMESPACE",
    "PREPAID_PATH",
    "PUSH_PATH",
    "SEND_PATH",
    "SmsCenterCall",
    "SmsCenterService",
]

NAMESPACE: Final = "http://www.smscenter.co.il/"
PREPAID_NAMESPACE: Final = "http://www.smscenter.co.il/Web/WebServices/"
SEND_PATH: Final = "/Web/WebServices/SendMessage.aspx"
IVR_PATH: Final = "/Web/WebServices/SendIVRMessage.aspx"
PREPAID_PATH: Final = "/web/webservices/CheckPrePaid.asmx"
PUSH_PATH: Final = "/Web/pushsms.aspx"
PUSH_OPERATION: Final = "pushsms.aspx"

_SOAP_PATHS: Final = {
    SEND_PATH.lower(): NAMESPACE,
    IVR_PATH.lower(): NAMESPACE,
    PREPAID_PATH.lower(): PREPAID_NAMESPACE,
}
_SMS_OPERATIONS: Final = ("Push", "Pull", "ReverseBilling")
_MESSAGE_OPTIONS: Final = ("Regular", "Concatenated", "Reply")
_MODES: Final = ("AllUsers", "ThisUser")


def _params_repr(params: Mapping[str, str]) -> str:
    return repr({k: ("***" if k.lower() == "password" else v) for k, v in params.items()})


@attrs.frozen
class SmsCenterCall:
    """One call an SMSCenter endpoint received (``sim.smscenter.calls``).

    Attributes:
        operation: the SOAP operation (``"SendMessageReturnMessageID"``…) or
            ``"pushsms.aspx"``.
        params: as received (the password hidden from ``repr``).
        method: ``"POST"`` or ``"GET"``.
        soap_version: ``"1.1"``/``"1.2"``, ``None`` for the HTTP push.
        path: the request path. faults: the injected faults that applied.
        at: when it arrived (simulator clock).
    """

    operation: str
    params: Mapping[str, str] = attrs.field(repr=_params_repr)
    method: str = "POST"
    soap_version: SoapVersion | None = None
    path: str = ""
    faults: tuple[str, ...] = ()
    at: float = 0.0


# ----------------------------------------------------------------------- argument types


def _long(args: Mapping[str, str], name: str) -> int:
    """An ``Int32``/``Int64`` argument (0 when absent, as ASMX deserializes it)."""
    text = args.get(name)
    if text is None:
        return 0
    try:
        return int(text.strip())
    except ValueError:
        raise SoapFault(
            f"Server was unable to read request. ---> There is an error in XML document. "
            f"---> {name}: Input string {text!r:.40} was not in a correct format."
        ) from None


def _enum(args: Mapping[str, str], name: str, names: Sequence[str]) -> str:
    """An enumerator argument given by name or number (the first when absent)."""
    text = args.get(name)
    if text is None:
        return names[0]
    text = text.strip()
    if text in names:
        return text
    if text.isdigit() and int(text) < len(names):
        return names[int(text)]
    raise SoapFault(
        f"Server was unable to read request. ---> There is an error in XML document. "
        f"---> Instance validation error: {text!r:.40} is not a valid value for {name}."
    )


def _double(args: Mapping[str, str], name: str) -> Decimal:
    text = args.get(name)
    if text is None:
        return Decimal(0)
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise SoapFault(
            f"Server was unable to read request. ---> {name}: Input string {text!r:.40} "
            "was not in a correct format."
        ) from None
    return value


def _numbers(text: str) -> list[str]:
    return text.split(",")


class SmsCenterService:
    """SMSCenter's endpoints on a :class:`~aiosms.testing.SmsCenterWorld`
    (``sim.smscenter``; paths matched case-insensitively):

    * ``/Web/WebServices/SendMessage.aspx`` (namespace ``http://www.smscenter.co.il/``):
      ``SendMessageReturnMessageID`` → ``Response``, ``MessageID``; ``SendMessagesV2``
      → the status text;
    * ``/Web/WebServices/SendIVRMessage.aspx`` (same namespace): ``SendIVRMessages`` →
      ``MessageID``, ``Response``; ``GetMessagesResponseByMessageID`` → ``Login``,
      ``ArrIVRMessagesReturnResponse``;
    * ``/web/webservices/CheckPrePaid.asmx``
      (``http://www.smscenter.co.il/Web/WebServices/``): ``CheckCompanyPrePaid`` →
      ``SMS``, ``IVRSeconds``, ``MMS``, ``Result``; ``CheckUsersPrePaid`` →
      ``CompanyWorkingInUserPrepaidMode``, ``Items``, ``ReturnValues``;
    * ``/Web/pushsms.aspx``, GET or POST (form): a plain-text answer.

    Fault rules name the SOAP operations, and ``"pushsms.aspx"``.

    Attributes:
        world: the :class:`~aiosms.testing.SmsCenterWorld` served.
        faults: the fault queue. calls: every call, oldest first (:class:`SmsCenterCall`);
            a request that is no SOAP call (no envelope, an unknown operation) is not one,
            a call whose arguments are not of their type (answered with a fault) is.
    """

    name = "smscenter"

    def __init__(
        self,
        *,
        world: SmsCenterWorld | None = None,
        delivery_time: float = 0.2,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.world = (
            world if world is not None else SmsCenterWorld(delivery_time=delivery_time, clock=clock)
        )
        self.faults = faults if faults is not None else Faults()
        self.calls: list[SmsCenterCall] = []

    def __repr__(self) -> str:
        return f"SmsCenterService({self.world!r}, calls={len(self.calls)})"

    @property
    def push_source(self) -> SmsCenterWorld:
        """The world: it makes the delivery notifications."""
        return self.world

    def add_account(self, username: str, password: str, **options: Any) -> SmsCenterAccount:
        """Create (or replace) an account; see :meth:`SmsCenterWorld.add_account`."""
        return self.world.add_account(username, password, **options)

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` were received (faulted ones included)."""
        return sum(1 for call in self.calls if call.operation == operation)

    # ----------------------------------------------------------------- HTTP side

    def matches(self, path: str) -> bool:
        lowered = path.lower()
        return lowered in _SOAP_PATHS or lowered == PUSH_PATH.lower()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.lower()
        if path == PUSH_PATH.lower():
            return await self._push(request)
        return await serve_soap(
            request,
            namespace=_SOAP_PATHS[path],
            operations=self._operations(path, request.remote),
            faults=self.faults,
            on_call=self._record,
        )

    def _record(self, call: SoapRequest, plan: FaultPlan) -> None:
        self.calls.append(
            SmsCenterCall(
                call.operation, call.args, "POST", call.version, call.path, plan.names,
                self.world.now(),
            )
        )  # fmt: skip

    async def _push(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return web.Response(status=405, headers={"Allow": "GET, POST"})
        received: dict[str, str] = {}  # as sent (first value of a name), query then form
        for key, value in request.query.items():
            received.setdefault(key, value)
        if request.method == "POST":
            form = await request.post()
            for key, field in form.items():
                if isinstance(field, str):
                    received.setdefault(key, field)
        params: dict[str, str] = {}  # ASP.NET reads parameters case-insensitively
        for key, value in received.items():
            params.setdefault(key.lower(), value)
        plan = self.faults.take(PUSH_OPERATION)
        self.calls.append(
            SmsCenterCall(
                PUSH_OPERATION, received, request.method, None, request.path, plan.names,
                self.world.now(),
            )
        )  # fmt: skip
        world = self.world

        def process() -> web.StreamResponse:
            return web.Response(text=world.push_sms(params), content_type="text/plain")

        return await self.faults.serve(request, plan, process)

    # ----------------------------------------------------------------- SOAP operations

    def _operations(self, path: str, remote: str | None) -> Mapping[str, SoapOperation]:
        world = self.world

        def login(args: Mapping[str, str]) -> SmsCenterAccount | str:
            return world.login(args.get("Username", ""), args.get("Password", ""), remote or "")

        def send(with_id: bool) -> SoapOperation:
            def run(args: Mapping[str, str]) -> str | SoapChildren:
                operation = _enum(args, "SMSOperation", _SMS_OPERATIONS)
                option = _enum(args, "MessageOption", _MESSAGE_OPTIONS)
                delay = _long(args, "DeliveryDelayInMinutes")
                expiration = _long(args, "ExpirationDelayInMinutes")
                price = _double(args, "Price")
                account = login(args)
                message = None
                if isinstance(account, str):
                    status = account
                else:
                    status, message = world.send_sms(
                        account,
                        sender=args.get("SenderName", ""),
                        numbers=_numbers(args.get("SendToPhoneNumbers", "")),
                        text=args.get("Message", ""),
                        channel="SendMessageReturnMessageID" if with_id else "SendMessagesV2",
                        chained=option == "Concatenated",
                        delay_minutes=delay,
                        expiration_minutes=expiration,
                        operation=operation,
                        option=option,
                        price=price,
                        cc=[a.strip() for a in args.get("CCToEmail", "").split(",") if a.strip()],
                    )
                if not with_id:
                    return status
                return [("Response", status), ("MessageID", str(message.id) if message else "")]

            return SoapOperation(run)

        def send_ivr(args: Mapping[str, str]) -> SoapChildren:
            record = _long(args, "RecordID")
            delay = _long(args, "DeliveryDelayInMinutes")
            expiration = _long(args, "ExpirationDelayInMinutes")
            account = login(args)
            message = None
            if isinstance(account, str):
                status = account
            else:
                status, message = world.send_ivr(
                    account,
                    sender=args.get("SenderName", ""),
                    record_id=record,
                    numbers=_numbers(args.get("SendToPhoneNumbers", "")),
                    text=args.get("Message", ""),
                    delay_minutes=delay,
                    expiration_minutes=expiration,
                )
            return [("MessageID", str(message.id) if message else ""), ("Response", status)]

        def ivr_report(args: Mapping[str, str]) -> SoapChildren:
            message_id = _long(args, "MessageID")
            account = login(args)
            if isinstance(account, str):
                return [("Login", account), ("ArrIVRMessagesReturnResponse", [])]
            rows = world.ivr_report(account, message_id)
            return [("Login", "OK"), ("ArrIVRMessagesReturnResponse", rows)]

        def company(args: Mapping[str, str]) -> SoapChildren:
            account = login(args)
            if isinstance(account, str):
                return [("SMS", "0"), ("IVRSeconds", "0"), ("MMS", "0"), ("Result", account)]
            return [
                ("SMS", str(account.sms)), ("IVRSeconds", str(account.ivr_seconds)),
                ("MMS", str(account.mms)), ("Result", "OK"),
            ]  # fmt: skip

        def users(args: Mapping[str, str]) -> SoapChildren:
            mode = _enum(args, "Mode", _MODES)
            account = login(args)
            if isinstance(account, str):
                return [("CompanyWorkingInUserPrepaidMode", "false"), ("Items", []),
                        ("ReturnValues", account)]  # fmt: skip
            items = world.users_prepaid(account, all_users=mode == "AllUsers")
            flag = "true" if account.user_prepaid_mode else "false"
            return [("CompanyWorkingInUserPrepaidMode", flag), ("Items", items),
                    ("ReturnValues", "OK")]  # fmt: skip

        if path == SEND_PATH.lower():
            return {"SendMessageReturnMessageID": send(True), "SendMessagesV2": send(False)}
        if path == IVR_PATH.lower():
            return {
                "SendIVRMessages": SoapOperation(send_ivr),
                "GetMessagesResponseByMessageID": SoapOperation(ivr_report),
            }
        return {
            "CheckCompanyPrePaid": SoapOperation(company),
            "CheckUsersPrePaid": SoapOperation(users),
        }
