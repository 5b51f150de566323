"""A chat bot's login by one-time code: send the code by SMS, stream its delivery status
back to the chat, check the code the user types.

``python examples/chat_bot.py`` without ``AIOSMS_URL`` starts the built-in simulator,
which also plays the user's phone (the demo reads the code from it) and prints the
chat. With ``AIOSMS_URL`` (``every8d+soap://``, ``every8d+http://`` or ``eims://``) it
sends a code to ``PHONE`` and asks for it on stdin.

The chat side is any async callback ``say(text)`` (a Telegram or Slack send; a list in
the tests). The code never reaches the chat, ``print()`` or a log line, and numbers are
masked: the bot keeps only a keyed hash of the code (HMAC-SHA256, a per-process key),
with an expiry and a few attempts, and compares in constant time. (aiosms itself keeps
message texts out of its DEBUG logs unless ``aiosms.log_bodies()`` is on.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import aiosms
from aiosms.testing import Simulator

Say = Callable[[str], Awaitable[None]]
Polled = aiosms.Every8dSoapClient | aiosms.Every8dHttpClient | aiosms.EimsClient
log = logging.getLogger("chat_bot")
NEWS = {
    aiosms.DeliveryState.SCHEDULED: "Your code is scheduled.",
    aiosms.DeliveryState.ACCEPTED: "Your code is on its way...",
    aiosms.DeliveryState.DELIVERED: "Your code has reached your phone.",
    aiosms.DeliveryState.FAILED: "Your code could not be delivered: check the number.",
    aiosms.DeliveryState.EXPIRED: "Your code could not be delivered in time: ask again.",
    aiosms.DeliveryState.CANCELLED: "Your code was cancelled.",
    aiosms.DeliveryState.UNKNOWN: "The network says something odd about your code.",
}


def mask(number: str) -> str:
    return "*" * max(len(number) - 3, 0) + number[-3:]


class OtpBot:
    """Sends login codes and checks them, for one chat backend."""

    def __init__(self, sms: Polled, *, ttl: float = 300, interval: float = 5.0) -> None:
        self.sms, self.ttl, self.interval = sms, ttl, interval
        self._key = secrets.token_bytes(32)
        self._pending: dict[str, tuple[bytes, float, int]] = {}  # user -> hash, until, tries

    def _digest(self, user: str, code: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{code}".encode(), hashlib.sha256).digest()

    async def start_login(self, user: str, phone: str, say: Say) -> str | None:
        """Text ``phone`` a new code for ``user`` and tell ``say`` how its delivery goes;
        returns once it is final (or after ``ttl``), with the batch id (EIMS: message id)."""
        code = f"{secrets.randbelow(10**6):06d}"
        self._pending[user] = (self._digest(user, code), time.monotonic() + self.ttl, 5)
        try:
            result = await self.sms.send(f"Your login code is {code}", phone)
        except aiosms.SmsError as exc:
            del self._pending[user]
            log.warning("no code sent to %s: %s", mask(phone), type(exc).__name__)
            await say("Sorry, I could not send you a code. Try again later.")
            return None
        del code  # from here on only its hash exists
        key = result.batch_id or next(iter(result.message_ids.values()), None)
        log.info("code for %s sent to %s (%s)", user, mask(phone), key)
        await say(f"I have sent a code to {mask(phone)}.")
        if isinstance(self.sms, aiosms.EimsClient):  # EIMS watches message ids
            changes = self.sms.watch(result, interval=self.interval, timeout=self.ttl)
        else:
            changes = self.sms.watch(str(key), interval=self.interval, timeout=self.ttl)
        async for change in changes:
            await say(NEWS[change.state])
        return key

    def verify(self, user: str, code: str) -> bool:
        """True once, for the right code within ``ttl``; five wrong tries end it."""
        digest, until, tries = self._pending.pop(user, (b"", 0.0, 0))
        if time.monotonic() > until or tries <= 0:
            return False
        if hmac.compare_digest(digest, self._digest(user, code.strip())):
            return True
        self._pending[user] = (digest, until, tries - 1)
        return False


async def main(url: str | None = None, *, phone: str | None = None) -> list[str]:
    """One login: the code sent, its delivery streamed to the chat, then checked."""
    chat: list[str] = []

    async def say(text: str) -> None:  # the chat backend: here, print and remember
        chat.append(text)
        print(f"bot: {text}")

    async with contextlib.AsyncExitStack() as stack:
        sim = None
        if (url := url or os.environ.get("AIOSMS_URL")) is None:
            sim = await stack.enter_async_context(Simulator())
            url = sim.client_url("every8d+soap")
        sms = await stack.enter_async_context(aiosms.from_url(url))
        if not isinstance(sms, Polled):
            raise SystemExit("SMSCenter reports SMS by notification only: use a push receiver")
        bot = OtpBot(sms, interval=0.1 if sim is not None else 5.0)
        phone = phone or os.environ.get("PHONE", "0912345670")
        batch_id = await bot.start_login("alice", phone, say)
        if sim is not None and batch_id is not None:  # the phone reads the SMS
            typed = sim.every8d.recipients(batch_id)[0].text.rpartition(" ")[2]
        else:
            typed = await asyncio.to_thread(input, "code: ")
        await say("Welcome in!" if bot.verify("alice", typed) else "That code is not right.")
    return chat


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the simulator's
    asyncio.run(main())
