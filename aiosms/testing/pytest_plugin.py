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
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from ._server import Simulator

__all__ = ["sms_simulator"]


@pytest_asyncio.fixture
async def sms_simulator() -> AsyncIterator[Simulator]:
    """A started :class:`~aiosms.testing.Simulator`, closed after the test."""
    async with Simulator() as simulator:
        yield simulator
