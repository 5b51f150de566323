"""aiosms._session.CredentialGate: sticky refusal for APIs that send the password with
every call (EVERY8D HTTP), with a fake provider call."""

from __future__ import annotations

import anyio
import pytest

from aiosms import AccountBlockedError, AuthenticationError, ProviderError, TransportError
from aiosms._session import CredentialGate, MemoryKeyStore, Scope, fingerprint


@pytest.fixture
def scope(request: pytest.FixtureRequest) -> Scope:
    """A scope of each test's own (gates of one scope share a lock and a proof)."""
    return ("every8d", f"http://127.0.0.1:1/{request.node.name}/API21/HTTP", "acme")


class FakeCalls:
    """Answers calls after a pause; refuses, fails or succeeds as told; counts them."""

    def __init__(self, answer: str = "ok", delay: float = 0.01) -> None:
        self.count = 0
        self.answer = answer
        self.delay = delay

    async def __call__(self) -> str:
        self.count += 1
        await anyio.sleep(self.delay)
        if self.answer == "refuse":
            raise AuthenticationError("wrong password", provider="every8d", code="-101")
        if self.answer == "blocked":
            raise AccountBlockedError("blocked", provider="every8d", code="-999")
        if self.answer == "transport":
            raise TransportError("connection reset", provider="every8d")
        if self.answer == "provider":
            raise ProviderError("bad number", provider="every8d", code="-306")
        return self.answer


def gate(scope: Scope, store: MemoryKeyStore, password: str = "pw") -> CredentialGate:  # noqa: S107
    return CredentialGate(scope, credential=fingerprint(scope, password), store=store)


async def _many(g: CredentialGate, calls: FakeCalls, n: int) -> list[BaseException | str]:
    outcomes: list[BaseException | str] = []

    async def one() -> None:
        try:
            outcomes.append(await g.call(calls))
        except Exception as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return outcomes


async def test_twenty_concurrent_callers_with_a_wrong_password_make_one_call(scope: Scope) -> None:
    calls = FakeCalls("refuse")
    outcomes = await _many(gate(scope, MemoryKeyStore()), calls, 20)
    assert calls.count == 1
    assert len(outcomes) == 20
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert {o.code for o in outcomes if isinstance(o, AuthenticationError)} == {"-101"}


async def test_a_refusal_is_sticky_for_a_new_gate_with_the_same_credentials(scope: Scope) -> None:
    store = MemoryKeyStore()
    calls = FakeCalls("refuse")
    with pytest.raises(AuthenticationError):
        await gate(scope, store).call(calls)
    with pytest.raises(AuthenticationError, match="not tried again"):
        await gate(scope, store).call(calls)
    assert calls.count == 1
    # Other credentials are not refused by it.
    calls.answer = "ok"
    assert await gate(scope, store, password="right").call(calls) == "ok"
    assert calls.count == 2


async def test_a_blocked_account_stays_blocked(scope: Scope) -> None:
    store = MemoryKeyStore()
    g = gate(scope, store)
    calls = FakeCalls("blocked")
    with pytest.raises(AccountBlockedError):
        await g.call(calls)
    with pytest.raises(AccountBlockedError):
        await g.call(calls)
    assert calls.count == 1


async def test_after_a_success_calls_run_concurrently(scope: Scope) -> None:
    g = gate(scope, MemoryKeyStore())
    calls = FakeCalls("ok", delay=0.2)
    assert await g.call(calls) == "ok"
    with anyio.fail_after(1.5):  # 10 calls one at a time would take 2 s
        outcomes = await _many(g, calls, 10)
    assert outcomes == ["ok"] * 10
    assert calls.count == 11


async def test_until_proven_the_first_call_runs_alone(scope: Scope) -> None:
    g = gate(scope, MemoryKeyStore())
    events: list[str] = []

    async def call() -> str:
        events.append("start")
        await anyio.sleep(0.01)
        events.append("end")
        return "ok"

    assert await _many(g, call, 5) == ["ok"] * 5  # type: ignore[arg-type]
    # Nothing else started before the first call had shown the password works.
    assert events[:2] == ["start", "end"]
    assert events.count("start") == 5


async def test_a_failure_that_is_not_a_refusal_proves_nothing_and_blocks_nothing(
    scope: Scope,
) -> None:
    g = gate(scope, MemoryKeyStore())
    calls = FakeCalls("transport")
    with pytest.raises(TransportError):
        await g.call(calls)
    calls.answer = "provider"
    with pytest.raises(ProviderError):
        await g.call(calls)
    calls.answer = "ok"
    assert await g.call(calls) == "ok"
    assert calls.count == 3


async def test_a_second_gate_of_a_proven_scope_does_not_queue(scope: Scope) -> None:
    store = MemoryKeyStore()
    calls = FakeCalls("ok", delay=0.2)
    first = gate(scope, store)
    assert await first.call(calls) == "ok"
    second = gate(scope, store)
    with anyio.fail_after(1.5):
        assert await _many(second, calls, 10) == ["ok"] * 10


async def test_a_refusal_after_success_is_sticky_too(scope: Scope) -> None:
    """The password was changed on the provider's side while the client ran."""
    store = MemoryKeyStore()
    g = gate(scope, store)
    calls = FakeCalls("ok")
    assert await g.call(calls) == "ok"
    calls.answer = "refuse"
    with pytest.raises(AuthenticationError):
        await g.call(calls)
    with pytest.raises(AuthenticationError):
        await gate(scope, store).call(calls)
    assert calls.count == 2


async def test_the_refusal_record_holds_no_password(scope: Scope) -> None:
    store = MemoryKeyStore()
    with pytest.raises(AuthenticationError):
        await gate(scope, store, password="hunter2-secret").call(FakeCalls("refuse"))
    _, refusal = await store.get(scope)
    assert refusal is not None
    assert "hunter2-secret" not in repr(refusal)
    assert "hunter2-secret" not in refusal.credential
    assert "hunter2" not in repr(gate(scope, store, password="hunter2-secret"))
