"""The fixtures of aiosms.testing.pytest_plugin, used as a project's tests would."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

import aiosms
from aiosms.testing import Simulator, ThreadedSimulator

pytest_plugins = ["aiosms.testing.pytest_plugin", "pytester"]


async def test_every8d_soap_client(
    every8d_soap_client: aiosms.Every8dSoapClient, sms_simulator: Simulator
) -> None:
    assert isinstance(every8d_soap_client, aiosms.Every8dSoapClient)
    result = await every8d_soap_client.send("code 1234", to="0912345670")
    assert result.batch_id is not None
    assert sms_simulator.every8d.recipients(result.batch_id)[0].text == "code 1234"


async def test_every8d_http_client(
    every8d_http_client: aiosms.Every8dHttpClient, sms_simulator: Simulator
) -> None:
    assert isinstance(every8d_http_client, aiosms.Every8dHttpClient)
    assert await every8d_http_client.balance() == Decimal(1000)
    assert [c.operation for c in sms_simulator.every8d_http.calls] == ["getCredit.ashx"]


async def test_eims_client(eims_client: aiosms.EimsClient, sms_simulator: Simulator) -> None:
    assert isinstance(eims_client, aiosms.EimsClient)
    result = await eims_client.send("hi", to="886912345670")
    states = [c.state async for c in eims_client.watch(result, interval=0.05, timeout=5)]
    assert states[-1] is aiosms.DeliveryState.DELIVERED
    assert len(sms_simulator.eims.world.messages) == 1


async def test_smscenter_client(
    smscenter_client: aiosms.SmsCenterClient, sms_simulator: Simulator
) -> None:
    assert isinstance(smscenter_client, aiosms.SmsCenterClient)
    assert smscenter_client.sender == "aiosms"
    result = await smscenter_client.send("שלום", to="054-1234560")
    assert result.sent == 1
    assert len(sms_simulator.smscenter.world.messages) == 1


async def test_clients_share_the_one_simulator(
    every8d_soap_client: aiosms.Every8dSoapClient,
    every8d_http_client: aiosms.Every8dHttpClient,
) -> None:
    # One EVERY8D world: a SOAP send spends the credit the HTTP API reports.
    await every8d_soap_client.send("hi", to="0912345670")
    assert await every8d_http_client.balance() == Decimal(999)


async def test_any_sms_client(any_sms_client: aiosms.SmsClient, sms_simulator: Simulator) -> None:
    assert isinstance(any_sms_client, aiosms.SmsClient)
    number = {"eims": "886912345670", "smscenter": "0541234560"}.get(
        any_sms_client.provider, "0912345670"
    )
    result = await any_sms_client.send("hello", number)
    assert result.sent == 1
    assert await any_sms_client.balance()


def test_any_sms_client_runs_once_per_provider(request: pytest.FixtureRequest) -> None:
    from aiosms.testing.pytest_plugin import PROVIDERS

    names = {item.name for item in request.session.items}
    assert {f"test_any_sms_client[{p}]" for p in PROVIDERS} <= names
    assert PROVIDERS == ("every8d+soap", "every8d+http", "eims", "smscenter")


def test_sms_simulator_thread_in_a_sync_test(sms_simulator_thread: ThreadedSimulator) -> None:
    assert sms_simulator_thread.running

    async def send() -> str:
        async with aiosms.from_url(sms_simulator_thread.client_url("every8d+soap")) as sms:
            return str((await sms.send("hi", "0912345670")).batch_id)

    batch_id = asyncio.run(send())
    recipients = sms_simulator_thread.call(
        sms_simulator_thread.simulator.every8d.recipients, batch_id
    )
    assert [r.mobile for r in recipients] == ["0912345670"]


def test_fixtures_close_what_they_open(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makepyfile(
        """
        import pytest

        pytest_plugins = ["aiosms.testing.pytest_plugin"]
        SEEN = []

        async def test_clients(every8d_soap_client, every8d_http_client, eims_client,
                               smscenter_client, sms_simulator):
            SEEN.extend([every8d_soap_client, every8d_http_client, eims_client,
                         smscenter_client, sms_simulator])
            assert not any(c.closed for c in SEEN[:4])

        async def test_any(any_sms_client):
            SEEN.append(any_sms_client)

        def test_thread(sms_simulator_thread):
            SEEN.append(sms_simulator_thread)

        def test_all_closed():
            assert len(SEEN) == 10
            assert all(c.closed for c in SEEN[:4] + SEEN[5:9])
            assert not SEEN[4].running and not SEEN[9].running
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["*7 passed*"])
