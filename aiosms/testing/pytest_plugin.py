"""pytest fixtures for testing code that uses aiosms.

Enable them in a ``conftest.py``::

    pytest_plugins = ["aiosms.testing.pytest_plugin"]

then ask for ``sms_simulator`` in an async test (pytest-asyncio)::

    async def test_sends(sms_simulator):
        async with aiosms.Every8dSoapClient(
            "demo", "demo-password", base_url=sms_simulator.url
        ) as sms:
            await sms.send("hi", to="0912345678")
        assert sms_simulator.every8d.count("sendSMS") == 1

or for an open client on it (closed after the test), one per provider::

    async def test_code(every8d_soap_client, sms_simulator):
        result = await every8d_soap_client.send("code 1234", to="0912345670")
        assert sms_simulator.every8d.recipients(result.batch_id)[0].text == "code 1234"

The fixtures:

- ``sms_simulator``: a started :class:`~aiosms.testing.Simulator`.
- ``every8d_soap_client``, ``every8d_http_client``, ``eims_client``,
  ``smscenter_client``: an open client of that provider on ``sms_simulator``,
  account ``demo`` (SMSCenter's sender ``"aiosms"``).
- ``any_sms_client``: the test runs once per provider (ids ``every8d+soap``,
  ``every8d+http``, ``eims``, ``smscenter``), with an :class:`aiosms.SmsClient`
  made by :func:`aiosms.from_url`; ``any_sms_client.provider`` says which. SMSCenter
  reports SMS only by notification, so its ``watch()`` needs ``push=``.
- ``sms_simulator_thread``: a started :class:`~aiosms.testing.ThreadedSimulator`,
  for sync tests (FastAPI's ``TestClient``, code without an event loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from .._config import from_url
from .._protocol import SmsClient
from ..eims.client import EimsClient
from ..every8d.http import Every8dHttpClient
from ..every8d.soap import Every8dSoapClient
from ..smscenter.client import SmsCenterClient
from ._server import Simulator
from ._threaded import ThreadedSimulator

__all__ = [
    "PROVIDERS",
    "any_sms_client",
    "eims_client",
    "every8d_http_client",
    "every8d_soap_client",
    "sms_simulator",
    "sms_simulator_thread",
    "smscenter_client",
]

PROVIDERS = ("every8d+soap", "every8d+http", "eims", "smscenter")
"""The providers ``any_sms_client`` runs a test with (its ids)."""

_ACCOUNT = ("demo", "demo-password")


@pytest_asyncio.fixture
async def sms_simulator() -> AsyncIterator[Simulator]:
    """A started :class:`~aiosms.testing.Simulator`, closed after the test."""
    async with Simulator() as simulator:
        yield simulator


@pytest.fixture
def sms_simulator_thread() -> Iterator[ThreadedSimulator]:
    """A started :class:`~aiosms.testing.ThreadedSimulator` (for sync tests), stopped
    after the test."""
    with ThreadedSimulator() as simulator:
        yield simulator


@pytest_asyncio.fixture
async def every8d_soap_client(sms_simulator: Simulator) -> AsyncIterator[Every8dSoapClient]:
    """An open :class:`~aiosms.Every8dSoapClient` on ``sms_simulator`` (account ``demo``)."""
    async with Every8dSoapClient(*_ACCOUNT, base_url=sms_simulator.url) as client:
        yield client


@pytest_asyncio.fixture
async def every8d_http_client(sms_simulator: Simulator) -> AsyncIterator[Every8dHttpClient]:
    """An open :class:`~aiosms.Every8dHttpClient` on ``sms_simulator`` (account ``demo``)."""
    async with Every8dHttpClient(*_ACCOUNT, base_url=sms_simulator.url) as client:
        yield client


@pytest_asyncio.fixture
async def eims_client(sms_simulator: Simulator) -> AsyncIterator[EimsClient]:
    """An open :class:`~aiosms.EimsClient` on ``sms_simulator`` (account ``demo``)."""
    async with EimsClient(*_ACCOUNT, base_url=sms_simulator.url) as client:
        yield client


@pytest_asyncio.fixture
async def smscenter_client(sms_simulator: Simulator) -> AsyncIterator[SmsCenterClient]:
    """An open :class:`~aiosms.SmsCenterClient` on ``sms_simulator`` (account ``demo``,
    sender ``"aiosms"``)."""
    async with SmsCenterClient(*_ACCOUNT, sender="aiosms", base_url=sms_simulator.url) as client:
        yield client


@pytest_asyncio.fixture(params=PROVIDERS)
async def any_sms_client(
    request: pytest.FixtureRequest, sms_simulator: Simulator
) -> AsyncIterator[SmsClient]:
    """An open :class:`aiosms.SmsClient` on ``sms_simulator``, once per provider."""
    provider: str = request.param
    async with from_url(sms_simulator.client_url(provider)) as client:
        yield client
