"""aiosms._session: the SessionKeeper and the KeyStore protocol, with a fake login."""

from __future__ import annotations

import gc
from collections.abc import Callable

import anyio
import pytest

from aiosms import (
    AccountBlockedError,
    AuthenticationError,
    ClientClosedError,
    ProviderBusyError,
    SmsError,
)
from aiosms._session import (
    MemoryKeyStore,
    Refusal,
    Scope,
    SessionKeeper,
    SessionKey,
    fingerprint,
)

SCOPE: Scope = ("every8d", "http://127.0.0.1:1/API21/SOAP/SMS.asmx", "acme")


@pytest.fixture(autouse=True)
def fresh_scope(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """A scope of each test's own, so keepers left by other tests never share its lock."""
    monkeypatch.setitem(
        globals(), "SCOPE", ("every8d", f"http://127.0.0.1:1/{request.node.name}", "acme")
    )


class FakeProvider:
    """Hands out keys k1, k2, … ; can refuse or be busy; counts logins."""

    def __init__(self) -> None:
        self.logins = 0
        self.refuse: Callable[[], SmsError] | None = None
        self.busy = 0
        self.delay = 0.0

    async def login(self) -> str:
        self.logins += 1
        await anyio.sleep(self.delay)
        if self.busy:
            self.busy -= 1
            raise ProviderBusyError("busy", provider="every8d", code="-97")
        if self.refuse is not None:
            raise self.refuse()  # a new error each time, as from the wire
        return f"k{self.logins}"


def keeper(
    provider: FakeProvider,
    store: MemoryKeyStore,
    *,
    password: str = "pw",  # noqa: S107
    scope: Scope | None = None,
    max_age: float = 3600.0,
    clock: Callable[[], float] | None = None,
) -> SessionKeeper:
    kw = {} if clock is None else {"clock": clock}
    scope = SCOPE if scope is None else scope
    return SessionKeeper(
        scope,
        login=provider.login,
        credential=fingerprint(scope, password),
        renew_at=lambda born: born + max_age,
        store=store,
        busy_attempts=3,
        **kw,  # type: ignore[arg-type]
    )


async def test_one_login_for_many_concurrent_callers() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    provider.delay = 0.01
    sk = keeper(provider, store)
    keys: list[SessionKey] = []

    async def take() -> None:
        keys.append(await sk.key())

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(take)
    assert provider.logins == 1
    assert {k.value for k in keys} == {"k1"}
    assert sk.current() == keys[0]


async def test_two_clients_of_one_account_share_one_key() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    first, second = keeper(provider, store), keeper(provider, store)
    assert (await first.key()).value == "k1"
    assert (await second.key()).value == "k1"  # taken from the store, no second login
    assert provider.logins == 1


async def test_a_refused_key_is_renewed_once_and_others_take_the_new_one() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    first, second = keeper(provider, store), keeper(provider, store)
    stale = await first.key()
    await second.key()
    renewed = await first.renew(stale)  # the provider answered -301 to `first`
    assert (renewed.value, renewed.generation) == ("k2", 2)
    # `second` still holds generation 1; when it is refused too, it takes k2 from the
    # store instead of logging in again (which would knock k2 out in turn).
    assert (await second.renew(stale)).value == "k2"
    assert provider.logins == 2


async def test_concurrent_renewals_of_one_stale_key_log_in_once() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    provider.delay = 0.01
    sk = keeper(provider, store)
    stale = await sk.key()
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(sk.renew, stale)
    assert provider.logins == 2
    assert sk.current() is not None
    assert sk.current().value == "k2"  # type: ignore[union-attr]


async def test_an_old_key_is_renewed_before_use() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    now = [1000.0]
    sk = keeper(provider, store, max_age=60, clock=lambda: now[0])
    assert (await sk.key()).value == "k1"
    now[0] += 59
    assert (await sk.key()).value == "k1"
    now[0] += 2
    assert sk.current() is None
    assert (await sk.key()).value == "k2"


async def test_different_scopes_have_different_keys() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    other: Scope = (SCOPE[0], SCOPE[1], "other-account")
    await keeper(provider, store).key()
    await keeper(provider, store, scope=other).key()
    assert provider.logins == 2


@pytest.mark.parametrize(
    ("error", "code"), [(AuthenticationError, "-101"), (AccountBlockedError, "-999")]
)
async def test_a_refused_login_is_never_repeated_by_any_client(
    error: type[SmsError], code: str
) -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    provider.refuse = lambda: error("refused", provider="every8d", code=code)
    first = keeper(provider, store, password="wrong")
    with pytest.raises(error):
        await first.key()
    with pytest.raises(error, match="not tried again"):
        await first.key()
    # A second client with the same wrong password is refused without a login...
    with pytest.raises(error, match="not tried again") as info:
        await keeper(provider, store, password="wrong").key()
    assert type(info.value) is error
    assert info.value.code == code
    assert provider.logins == 1
    # ...but one with corrected credentials logs in, and that clears the refusal.
    provider.refuse = None
    assert (await keeper(provider, store, password="right").key()).value == "k2"
    _, refusal = await store.get(SCOPE)
    assert refusal is None


async def test_a_refusal_records_no_password() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    provider.refuse = lambda: AuthenticationError("wrong", provider="every8d", code="-101")
    with pytest.raises(AuthenticationError):
        await keeper(provider, store, password="hunter2-secret").key()
    _, refusal = await store.get(SCOPE)
    assert isinstance(refusal, Refusal)
    assert "hunter2-secret" not in repr(refusal)
    assert "hunter2-secret" not in refusal.credential
    assert refusal.credential == fingerprint(SCOPE, "hunter2-secret")


async def test_busy_logins_are_retried_then_given_up() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    provider.busy = 2
    assert (await keeper(provider, store).key()).value == "k3"
    provider2 = FakeProvider()
    provider2.busy = 5
    with pytest.raises(ProviderBusyError):
        await keeper(provider2, MemoryKeyStore()).key()
    assert provider2.logins == 3  # busy_attempts


async def test_put_keeps_only_the_next_generation() -> None:
    store = MemoryKeyStore()
    first = await store.put(SCOPE, SessionKey("a", 1, 10.0))
    assert first.value == "a"
    # A racing renewal that also replaced generation 0 loses and learns the winner.
    assert (await store.put(SCOPE, SessionKey("b", 1, 10.0))).value == "a"
    assert (await store.put(SCOPE, SessionKey("c", 2, 10.0))).value == "c"
    assert (await store.put(SCOPE, SessionKey("d", 5, 10.0))).value == "c"


async def test_only_the_last_client_closes_the_key() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    first, second = keeper(provider, store), keeper(provider, store)
    await first.key()
    await second.key()
    assert await first.release() is None  # `second` still uses it
    assert await first.release() is None  # safe twice
    last = await second.release()
    assert last is not None
    assert last.value == "k1"
    stored, _ = await store.get(SCOPE)
    assert stored is not None
    assert stored.value == ""  # discarded: nobody takes a closed key
    third = keeper(provider, store)
    assert (await third.key()).value == "k2"


async def test_a_released_keeper_refuses_to_renew() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    sk = keeper(provider, store)
    await sk.release()
    with pytest.raises(ClientClosedError):
        await sk.key()
    assert provider.logins == 0


async def test_keepers_of_a_scope_share_one_lock_while_any_lives() -> None:
    provider, store = FakeProvider(), MemoryKeyStore()
    a, b = keeper(provider, store), keeper(provider, store)
    assert a._flight is b._flight
    del a, b
    gc.collect()
    c = keeper(provider, store)
    assert set(c._flight.holders) == {c}  # the dropped keepers stopped counting
