"""What every client shares, as a protocol: :class:`SmsClient`.

Code written against it (a service's notification layer, a test double) works with any
provider's client: :class:`~aiosms.Every8dSoapClient`, :class:`~aiosms.Every8dHttpClient`,
:class:`~aiosms.EimsClient`, :class:`~aiosms.SmsCenterClient` all satisfy it (mypy checks
each, in its own module), and so does what :func:`aiosms.from_url` returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import ClassVar, Protocol, Self, runtime_checkable

from ._client import PushSource
from .models import DeliveryReport, EimsBalance, SendResult, SmsCenterBalance, StatusChange

__all__ = ["SmsClient"]


@runtime_checkable
class SmsClient(Protocol):
    """Send, read reports, watch, ask the balance, close: what every client does.

    Provider-specific options are keyword arguments of each client's own methods; this
    protocol names what they all take.
    """

    provider: ClassVar[str]
    """``"every8d"``, ``"eims"``, ``"smscenter"``."""

    async def send(
        self, text: str, to: str | Iterable[str], *, at: datetime | None = None
    ) -> SendResult:
        """Send ``text`` to one number or several, now or ``at`` an aware time."""
        ...

    def delivery_reports(self, batch_id: str, /) -> AsyncIterator[DeliveryReport]:
        """Every recipient's report of a send."""
        ...

    def watch(
        self,
        batch_id: str,
        /,
        *,
        timeout: float | None = None,
        push: PushSource | None = None,
    ) -> AsyncIterator[StatusChange]:
        """Each recipient's state when first seen and whenever it changes, until final."""
        ...

    async def balance(self) -> Decimal | EimsBalance | SmsCenterBalance:
        """What the account has left."""
        ...

    async def aclose(self) -> None:
        """Close the client (safe twice)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
