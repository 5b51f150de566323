"""SMSCenter's delivery notifications, simulated: a GET of the customer's URL template
for each status an SMS recipient reaches, repeated until the answer contains ``_OK_``.

The spec's schedule (every 5 minutes for an hour, then hourly for 3 days) is compressed:
every ``retry_interval`` seconds for ``retry_for`` seconds at most.
"""

from __future__ import annotations

import contextlib
import re
from typing import Final
from urllib.parse import quote

import aiohttp
import attrs

from ._smscenter_model import SmsCenterEvent, SmsCenterMessage, israel_time

__all__ = ["Notifications", "SmsCenterAttempt", "SmsCenterNotification"]

_READ_LIMIT: Final = 64 * 1024

_TOKEN: Final = re.compile(
    r"\{(msgid|msisdn|statuscode|statusdes|reasoncode|reasondes|des|descode"
    r"|dlr_ddmmyyyyhhmmss|dlr_ddmmyyyhhmmss)\}",
    re.IGNORECASE,
)


@attrs.frozen
class SmsCenterNotification:
    """One delivery notification: the status ``status``/``reason`` that recipient
    ``msisdn`` (``972…``) of message ``message_id`` reached at ``at`` (simulator clock),
    and the ``url`` the template filled in for it."""

    url: str
    message_id: int
    msisdn: str
    status: int
    reason: int
    at: float


@attrs.frozen
class SmsCenterAttempt:
    """One GET of a notification: when (simulator clock), whether the answer contained
    ``_OK_``, its HTTP status (``None``: no answer) and body."""

    notification: SmsCenterNotification
    at: float
    ok: bool
    http_status: int | None = None
    body: str = ""


@attrs.define
class _Pending:
    notification: SmsCenterNotification
    next_at: float
    deadline: float


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as resp:
        body = await resp.content.read(_READ_LIMIT)
        return resp.status, body.decode("utf-8", "replace")


class Notifications:
    """The notification half of :class:`~aiosms.testing.SmsCenterWorld` (a base class).

    Attributes:
        notify_url: the URL template (``None``: no notifications); its tokens
            (case-insensitive) ``{MsgID}``, ``{MSISDN}`` (``972…``), ``{StatusCode}``,
            ``{StatusDes}``, ``{ReasonCode}``, ``{ReasonDes}`` (also ``{DesCode}``,
            ``{Des}``, as the spec's sample URL has them) and ``{Dlr_ddmmyyyyhhmmss}``
            (or ``{Dlr_ddmmyyyhhmmss}``: the status time, Israel time) are filled in,
            URL-encoded.
        retry_interval, retry_for: seconds between repeats, and how long to repeat.
        notifications: those answered with ``_OK_``, in order.
        notification_attempts: every GET made (:class:`SmsCenterAttempt`).
        notifications_given_up: those never answered with ``_OK_``.
    """

    def _init_notifications(self) -> None:
        self.notify_url: str | None = None
        self.retry_interval = 0.05
        self.retry_for = 3.0
        self.notifications: list[SmsCenterNotification] = []
        self.notification_attempts: list[SmsCenterAttempt] = []
        self.notifications_given_up: list[SmsCenterNotification] = []
        self._pending: list[_Pending] = []
        self._open: dict[int, SmsCenterMessage] = {}  # SMS with statuses not yet notified

    def now(self) -> float:
        raise NotImplementedError

    @property
    def push_url(self) -> str | None:
        """:attr:`notify_url` (what makes the simulator's push loop call
        :meth:`push_due`)."""
        return self.notify_url

    def fill(self, template: str, message_id: int, msisdn: str, event: SmsCenterEvent) -> str:
        """``template`` with its tokens (case-insensitive) replaced, URL-encoded."""
        values = {
            "msgid": str(message_id), "msisdn": msisdn, "statuscode": str(event.status),
            "statusdes": event.status_text, "reasoncode": str(event.reason),
            "reasondes": event.reason_text, "descode": str(event.reason),
            "des": event.reason_text,
        }  # fmt: skip
        stamp = israel_time(event.at, "%d%m%Y%H%M%S")

        def value(found: re.Match[str]) -> str:
            token = found.group(1).lower()
            return quote(stamp if token.startswith("dlr_") else values[token], safe="")

        return _TOKEN.sub(value, template)

    def due_notifications(self) -> list[SmsCenterNotification]:
        """Notifications owed now, one per status an SMS recipient reached since the
        last call (filled from :attr:`notify_url`); each is owed once."""
        template = self.notify_url
        if template is None:
            return []
        now = self.now()
        due = []
        for message_id, message in list(self._open.items()):
            done = True
            for recipient in message.recipients:
                reached = recipient.events(now)
                for event in reached[recipient.notified :]:
                    url = self.fill(template, message_id, recipient.msisdn, event)
                    due.append(
                        SmsCenterNotification(
                            url, message_id, recipient.msisdn, event.status, event.reason, event.at
                        )
                    )
                recipient.notified = len(reached)
                done = done and recipient.notified == len(recipient.timeline)
            if done:
                del self._open[message_id]
        return due

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """GET the notifications owed, and those due for a retry; how many got ``_OK_``."""
        now = self.now()
        self._pending.extend(
            _Pending(n, now, now + self.retry_for) for n in self.due_notifications()
        )
        work = [p for p in self._pending if p.next_at <= now]
        self._pending = [p for p in self._pending if p.next_at > now]
        done = 0
        for pending in work:
            notification = pending.notification
            status: int | None = None
            body = ""
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, body = await _get(session, notification.url)
            ok = "_OK_" in body
            at = self.now()
            self.notification_attempts.append(SmsCenterAttempt(notification, at, ok, status, body))
            if ok:
                self.notifications.append(notification)
                done += 1
            elif at + self.retry_interval <= pending.deadline:
                pending.next_at = at + self.retry_interval
                self._pending.append(pending)
            else:
                self.notifications_given_up.append(notification)
        return done

    @property
    def pending_notifications(self) -> int:
        """How many notifications wait for a retry."""
        return len(self._pending)
