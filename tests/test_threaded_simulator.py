"""ThreadedSimulator (the simulator on its own loop, for sync code) and client_url()."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from decimal import Decimal

import pytest

import aiosms
from aiosms.testing import Simulator, ThreadedSimulator

NUMBERS = {
    "every8d+soap": "0912345670",
    "every8d+http": "0912345670",
    "eims": "886912345670",
    "smscenter": "0541234560",
}


def _simulator_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aiosms-simulator"]


def test_starts_and_stops_without_an_event_loop() -> None:
    before = len(_simulator_threads())
    sim = ThreadedSimulator()
    assert not sim.running
    assert repr(sim) == "ThreadedSimulator(not started)"
    with sim as entered:
        assert entered is sim
        assert sim.running
        assert sim.url.startswith("http://127.0.0.1:")
        assert sim.url == sim.simulator.url
        assert repr(sim) == f"ThreadedSimulator({sim.url})"
        assert sim.loop.is_running()
        assert len(_simulator_threads()) == before + 1
        sim.start()  # already running: nothing happens
    assert not sim.running
    assert len(_simulator_threads()) == before
    for name in ("url", "simulator", "loop"):
        with pytest.raises(RuntimeError, match="not running"):
            getattr(sim, name)
    sim.close()  # safe twice
    with pytest.raises(RuntimeError, match="closed"):
        sim.start()


def test_stops_promptly_with_connections_open() -> None:
    with ThreadedSimulator() as sim:
        reader = socket.create_connection(("127.0.0.1", int(sim.url.rpartition(":")[2])))
        started = time.monotonic()
    took = time.monotonic() - started
    reader.close()
    assert took < 5


@pytest.mark.parametrize("provider", list(NUMBERS))
def test_clients_in_another_loop_reach_it(provider: str) -> None:
    with ThreadedSimulator(delivery_time=0.01) as sim:

        async def scenario() -> list[aiosms.DeliveryState]:
            async with aiosms.from_url(sim.client_url(provider)) as sms:
                result = await sms.send("code 1234", NUMBERS[provider])
                assert result.sent == 1
                if provider == "smscenter":  # no SMS status query: notifications only
                    return []
                key = result if provider == "eims" else result.batch_id
                assert key is not None
                watch = sms.watch(key, interval=0.02, timeout=5)  # type: ignore[call-arg,arg-type]
                return [change.state async for change in watch]

        states = asyncio.run(scenario())
    if provider != "smscenter":
        assert states[-1] is aiosms.DeliveryState.DELIVERED


def test_call_runs_on_the_simulator_thread() -> None:
    with ThreadedSimulator() as sim:
        assert sim.call(threading.current_thread) is sim._thread
        sim.call(sim.simulator.every8d.add_account, "shop", "pw", credit=Decimal(7))

        async def balance() -> Decimal:
            async with aiosms.Every8dSoapClient("shop", "pw", base_url=sim.url) as sms:
                return await sms.balance()

        assert asyncio.run(balance()) == Decimal(7)
        assert sim.call(sim.simulator.every8d.count, "getCredit") == 1
        with pytest.raises(KeyError, match="nope"):
            sim.call(dict[str, int]().__getitem__, "nope")
        # From the simulator's own thread, call() runs the function directly.
        assert sim.call(sim.call, lambda: 42) == 42


def test_run_awaits_a_coroutine_on_its_loop() -> None:
    with ThreadedSimulator(stop_timeout=0.5) as sim:

        async def where() -> asyncio.AbstractEventLoop:
            await asyncio.sleep(0)
            return asyncio.get_running_loop()

        assert sim.run(where()) is sim.loop

        async def fail() -> None:
            raise LookupError("inside")

        with pytest.raises(LookupError, match="inside"):
            sim.run(fail())
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="did not answer"):
            sim.run(asyncio.sleep(30))
        assert time.monotonic() - started < 5
        with pytest.raises(RuntimeError, match="own thread"):
            sim.call(sim.run, where())
    with pytest.raises(RuntimeError, match="not running"):
        sim.run(where())  # closed, never awaited, no warning


def test_failure_to_start_is_raised_in_the_caller() -> None:
    before = len(_simulator_threads())
    with pytest.raises(ValueError, match="push_interval"), ThreadedSimulator(push_interval=0):
        pass
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=str(port)), ThreadedSimulator(port=port):
            pass
    assert len(_simulator_threads()) == before
    with pytest.raises(ValueError, match="positive"):
        ThreadedSimulator(stop_timeout=0)


def test_passes_simulator_options() -> None:
    pytest.importorskip("trustme")
    with ThreadedSimulator(tls=True, delivery_time=0.5) as sim:
        assert sim.url.startswith("https://")
        assert sim.client_url("eims").startswith("eims+https://demo:demo-password@")
        assert sim.simulator.every8d.world.delivery_time == 0.5


async def test_usable_from_async_code_too() -> None:
    with ThreadedSimulator() as sim:
        async with aiosms.from_url(sim.client_url("every8d+http")) as sms:
            assert await sms.balance() == Decimal(1000)


async def test_simulator_client_url() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError, match="not running"):
        sim.client_url("eims")
    async with sim:
        address = sim.url.removeprefix("http://")
        assert sim.client_url("every8d+soap") == (
            f"every8d+soap+http://demo:demo-password@{address}"
        )
        assert sim.client_url("every8d+http").startswith("every8d+http+http://demo:")
        assert sim.client_url("smscenter").endswith(f"@{address}?sender=aiosms")
        assert sim.client_url("smscenter", sender="Shop").endswith("?sender=Shop")
        with pytest.raises(ValueError, match="'every8d\\+soap', 'every8d\\+http'"):
            sim.client_url("every8d")
        sim.every8d.add_account("a@b", "p:ss/w?rd")
        url = sim.client_url("every8d+soap", account="a@b", password="p:ss/w?rd", soap="1.2")
        assert "p%3Ass%2Fw%3Frd" in url
        assert url.endswith("?soap=1.2")
        async with aiosms.from_url(url) as sms:
            assert await sms.balance() == Decimal(1000)
        assert sim.every8d.count("getConnection") == 1
