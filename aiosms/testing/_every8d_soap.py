"""The EVERY8D Web Services API 2.1 endpoint (SOAP 1.1/1.2, ASMX style), simulated.

Only the endpoint lives here: :class:`Every8dSoapService` wires the shared ASMX serving
(:mod:`._soap_service`: parsing, envelopes, faults) to an
:class:`~aiosms.testing.Every8dWorld`, which keeps the accounts, credit, session keys,
batches and pushes, and keeps the call log of its own requests. For convenience it also
offers the world's helpers (``add_account``, ``create_batch``, ``fate``, ``push_url``…),
so ``sim.every8d`` is the one handle tests need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final

import aiohttp
import attrs
from aiohttp import web

from .._soap import DEFAULT_NAMESPACE, SoapVersion
from ._every8d import (
    Every8dAccount,
    Every8dBatch,
    Every8dRecipient,
    Every8dWorld,
    message_cost,
)
from ._faults import FaultPlan, Faults
from ._soap_service import SoapOperation, SoapRequest, serve_soap

__all__ = ["ENDPOINT_PATH", "Every8dCall", "Every8dSoapService"]

ENDPOINT_PATH: Final = "/API21/SOAP/SMS.asmx"
_ENDPOINT_SUFFIX = ENDPOINT_PATH.lower()

_SESSION_ERROR = "-301"


def _params_repr(params: Mapping[str, str]) -> str:
    shown = {k: ("***" if k == "password" else v) for k, v in params.items()}
    return repr(shown)


@attrs.frozen
class Every8dCall:
    """One SOAP call the service received (``service.calls``).

    Attributes:
        operation: e.g. ``"sendSMS"``.
        params: the parameters as received (the password is hidden from ``repr``).
        soap_version: ``"1.1"`` or ``"1.2"``.
        path: the request path (shows an enterprise prefix such as ``/acme/API21/…``).
        faults: the injected faults that applied, e.g. ``("drop",)``.
        at: when it arrived, on the simulator clock (epoch seconds).
    """

    operation: str
    params: Mapping[str, str] = attrs.field(repr=_params_repr)
    soap_version: SoapVersion = "1.1"
    path: str = ENDPOINT_PATH
    faults: tuple[str, ...] = ()
    at: float = 0.0


class Every8dSoapService:
    """The EVERY8D Web Services (SOAP) endpoint: ``POST …/API21/SOAP/SMS.asmx``.

    It answers at that path under any prefix (enterprise accounts live under
    ``http://host/<company>/API21/SOAP/SMS.asmx``), in SOAP 1.1 or 1.2, whichever the
    request used. A :class:`~aiosms.testing.Simulator` creates one as ``sim.every8d``;
    a default account ``demo`` / ``demo-password`` with 1000 credit exists.

    Operations: ``getConnection``, ``sendSMS``, ``sendMessage``, ``sendParamSMS``,
    ``getDeliveryStatus``, ``getCredit``, ``eraseBooking``, ``closeConnection``; the
    session-key ones answer ``-301`` for a key that is not (or no longer) valid.

    Args:
        namespace: the service namespace (``http://tempuri.org/``).
        world: the EVERY8D world to serve (a new one by default). Endpoints given the
            same world share its accounts, credit, batches and pushes.
        delivery_time: for a new world: seconds a message takes from "accepted" to its
            final status (each recipient takes between 0.5 and 1.5 times this; 0.2 by
            default).
        session_ttl: for a new world: seconds of the simulator clock a session key stays
            valid (a day by default).
        clock: for a new world: returns the simulator time in epoch seconds
            (``time.time`` by default).
        faults: the fault queue to draw from (a private one by default).

    Attributes:
        namespace: the service namespace.
        world: the :class:`~aiosms.testing.Every8dWorld` served.
        faults: the fault queue.
        calls: every SOAP call received, oldest first (:class:`Every8dCall`); requests
            answered with a SOAP fault are not calls.

    ``fate``, ``push_url``, ``pushes``, ``accounts``, ``batches``, ``delivery_time`` and
    ``session_ttl`` are the world's (see :class:`~aiosms.testing.Every8dWorld`); reading
    or setting them here reads or sets them there.
    """

    name = "every8d"

    def __init__(
        self,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        world: Every8dWorld | None = None,
        delivery_time: float | None = None,
        session_ttl: float | None = None,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
    ) -> None:
        if world is None:
            world = Every8dWorld(
                delivery_time=0.2 if delivery_time is None else delivery_time,
                session_ttl=86400.0 if session_ttl is None else session_ttl,
                clock=clock,
            )
        elif delivery_time is not None or session_ttl is not None or clock is not None:
            raise TypeError("delivery_time, session_ttl and clock belong to the world given")
        self.namespace = namespace
        self.world = world
        self.faults = faults if faults is not None else Faults()
        self.calls: list[Every8dCall] = []
        self._operations: Mapping[str, SoapOperation] = self._operation_table()

    def __repr__(self) -> str:
        return (
            f"Every8dSoapService(accounts={len(self.accounts)}, batches={len(self.batches)}, "
            f"calls={len(self.calls)})"
        )

    # ----------------------------------------------------------------- the world's state

    @property
    def push_source(self) -> Every8dWorld:
        """What makes this endpoint's pushes: its world (which pushes once for all the
        endpoints that share it)."""
        return self.world

    @property
    def accounts(self) -> dict[str, Every8dAccount]:
        """User id -> :class:`~aiosms.testing.Every8dAccount` (the world's)."""
        return self.world.accounts

    @property
    def batches(self) -> dict[str, Every8dBatch]:
        """Batch id -> :class:`~aiosms.testing.Every8dBatch` (the world's)."""
        return self.world.batches

    @property
    def fate(self) -> Callable[[str], str]:
        """``fate(mobile) -> status``, each recipient's final status (the world's)."""
        return self.world.fate

    @fate.setter
    def fate(self, value: Callable[[str], str]) -> None:
        self.world.fate = value

    @property
    def push_url(self) -> str | None:
        """Where the world pushes status changes and replies, or ``None``."""
        return self.world.push_url

    @push_url.setter
    def push_url(self, value: str | None) -> None:
        self.world.push_url = value

    @property
    def pushes(self) -> list[dict[str, str]]:
        """Every push answered with HTTP 200, oldest first (the query sent)."""
        return self.world.pushes

    @property
    def delivery_time(self) -> float:
        """Seconds from "accepted" to the final status, for batches created from now."""
        return self.world.delivery_time

    @delivery_time.setter
    def delivery_time(self, value: float) -> None:
        self.world.delivery_time = value

    @property
    def session_ttl(self) -> float:
        """Seconds of the simulator clock a session key stays valid."""
        return self.world.session_ttl

    @session_ttl.setter
    def session_ttl(self, value: float) -> None:
        self.world.session_ttl = value

    # ----------------------------------------------------------------- helpers

    def now(self) -> float:
        """The simulator time, epoch seconds."""
        return self.world.now()

    def count(self, operation: str) -> int:
        """How many calls of ``operation`` were received (faulted ones included)."""
        return sum(1 for call in self.calls if call.operation == operation)

    def add_account(
        self, user_id: str, password: str, *, credit: Decimal = Decimal("1000")
    ) -> Every8dAccount:
        """Create (or replace) an account and return it."""
        return self.world.add_account(user_id, password, credit=credit)

    def account(self, user_id: str) -> Every8dAccount:
        """The account ``user_id`` (``KeyError`` if there is none)."""
        return self.world.account(user_id)

    def expire_sessions(self) -> None:
        """Invalidate every session key at once (they then answer ``-301``)."""
        self.world.expire_sessions()

    def create_batch(
        self, user_id: str, mobiles: Iterable[str], *, text: str = "seed", status: str | None = None
    ) -> str:
        """Seed a batch without HTTP; see :meth:`Every8dWorld.create_batch`."""
        return self.world.create_batch(user_id, mobiles, text=text, status=status)

    def add_reply(self, batch_id: str, mobile: str, text: str, at: datetime | None = None) -> None:
        """Make a recipient reply; see :meth:`Every8dWorld.add_reply`."""
        self.world.add_reply(batch_id, mobile, text, at)

    def recipients(self, batch_id: str) -> list[Every8dRecipient]:
        """Snapshots of every recipient of ``batch_id``, in order (``KeyError`` if unknown)."""
        return self.world.recipients(batch_id)

    @staticmethod
    def message_cost(text: str, mobile: str) -> int:
        """Credit one message of ``text`` to ``mobile`` costs; see
        :func:`~aiosms.testing.message_cost`."""
        return message_cost(text, mobile)

    def due_pushes(self) -> list[dict[str, str]]:
        """The push calls the world owes now; see :meth:`Every8dWorld.due_pushes`."""
        return self.world.due_pushes()

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """Make the push calls owed (and repeat failed ones); returns how many got 200."""
        return await self.world.push_due(session)

    # ----------------------------------------------------------------- HTTP side

    def matches(self, path: str) -> bool:
        """True for ``…/API21/SOAP/SMS.asmx`` under any prefix (case-insensitive)."""
        return path.lower().endswith(_ENDPOINT_SUFFIX)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one HTTP request to the endpoint."""
        return await serve_soap(
            request,
            namespace=self.namespace,
            operations=self._operations,
            faults=self.faults,
            on_call=self._record,
        )

    def _record(self, call: SoapRequest, plan: FaultPlan) -> None:
        self.calls.append(
            Every8dCall(
                operation=call.operation,
                params=call.args,
                soap_version=call.version,
                path=call.path,
                faults=plan.names,
                at=self.now(),
            )
        )

    def _operation_table(self) -> dict[str, SoapOperation]:
        world = self.world

        def keyed(
            run: Callable[[Every8dAccount, Mapping[str, str]], str | None],
        ) -> SoapOperation:
            """An operation that needs a valid ``sessionKey`` (else ``-301``)."""

            def with_session(args: Mapping[str, str]) -> str | None:
                account = world.session(args.get("sessionKey", ""))
                return _SESSION_ERROR if account is None else run(account, args)

            return SoapOperation(with_session)

        def send(operation: str) -> SoapOperation:
            return keyed(
                lambda account, args: world.send_sms(
                    account,
                    content=args.get("content", ""),
                    mobile=args.get("mobile", ""),
                    subject=args.get("subject", ""),
                    send_time=args.get("sendTime", ""),
                    retry_time=args.get("retryTime", ""),
                    operation=operation,
                )
            )

        # Parameters, in WSDL order: getConnection(userID, password); sendSMS and
        # sendMessage(sessionKey, subject, content, mobile, sendTime, retryTime);
        # sendParamSMS(sessionKey, subject, contentXML, sendTime);
        # getDeliveryStatus(sessionKey, batchID, pageNo); eraseBooking(sessionKey,
        # batchID); getCredit and closeConnection(sessionKey).
        return {
            "getConnection": SoapOperation(
                lambda args: world.get_connection(args.get("userID", ""), args.get("password", "")),
                busy=lambda: world.get_connection("", "", busy=True),
            ),
            "sendSMS": send("sendSMS"),
            "sendMessage": send("sendMessage"),
            "sendParamSMS": keyed(
                lambda account, args: world.send_param_sms(
                    account,
                    content_xml=args.get("contentXML", ""),
                    subject=args.get("subject", ""),
                    send_time=args.get("sendTime", ""),
                )
            ),
            "getDeliveryStatus": keyed(
                lambda account, args: world.get_delivery_status(
                    account, args.get("batchID", ""), args.get("pageNo", "")
                )
            ),
            "getCredit": keyed(lambda account, args: world.get_credit(account)),
            "eraseBooking": keyed(
                lambda account, args: world.erase_booking(account, args.get("batchID", ""))
            ),
            "closeConnection": SoapOperation(
                lambda args: world.close_connection(args.get("sessionKey", ""))
            ),
        }
