"""Session keys: one login for every caller, shared by every client of an account.

Providers such as EVERY8D's Web Services hand out a session key at login and keep
**one key per account**: a second login replaces the first key. So the key belongs to
the account, not to a client, and :class:`SessionKeeper` keeps it in a
:class:`KeyStore` under a :data:`Scope` ``(provider, service URL, account)``. Two
clients of one account in one process then share one key instead of knocking each
other's out.

The keeper:

* logs in **once** for all concurrent callers (single flight), and renews once for all
  callers that saw the same key refused;
* renews ahead of time when the provider's ``renew_at(born)`` rule says so (EVERY8D:
  a day old, or midnight in Taipei);
* retries a login the provider answered "busy" with jittered backoff;
* never repeats a refused login (wrong account or password, blocked account): the
  refusal is recorded in the store against a fingerprint of the credentials, and
  every later call with those credentials raises the same error at once, from any
  client, without a request. Providers lock accounts after a few failed logins.

The store is small on purpose (get, put-if-the-generation-matches, record a
refusal, discard) so that a shared store (Redis, for a fleet of workers) needs only
this protocol. :class:`MemoryKeyStore`, one per process by default, keeps it in a dict.
Each key carries a *generation*: ``put`` keeps a new key only if it replaces the
generation the caller saw, so two renewals racing in different processes keep one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar
from weakref import WeakSet, WeakValueDictionary

import anyio
import attrs
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from . import _telemetry
from .errors import AccountBlockedError, AuthenticationError, ClientClosedError, ProviderBusyError

__all__ = [
    "CredentialGate",
    "KeyStore",
    "MemoryKeyStore",
    "Refusal",
    "Scope",
    "SessionKeeper",
    "SessionKey",
    "default_key_store",
]

logger = logging.getLogger("aiosms.session")

_T = TypeVar("_T")

Scope = tuple[str, str, str]
"""``(provider, service URL, account)``: whose key it is."""


@attrs.frozen
class SessionKey:
    """A session key as stored: its value, generation and when to renew it."""

    value: str = attrs.field(repr=False)
    generation: int
    renew_at: float
    """Epoch seconds after which the key is renewed before use."""


@attrs.frozen
class Refusal:
    """A login the provider refused, recorded so that it is never tried again."""

    credential: str = attrs.field(repr=False)
    """A fingerprint (SHA-256) of the scope and password that were refused."""
    code: str | None
    message: str
    blocked: bool = False
    """The provider said the account is blocked (``AccountBlockedError``)."""
    provider_message: str | None = None


class KeyStore(Protocol):
    """Where session keys live, shared by every client of an account."""

    async def get(self, scope: Scope) -> tuple[SessionKey | None, Refusal | None]:
        """The current key of ``scope`` (or None) and its recorded refusal (or None)."""
        ...

    async def put(self, scope: Scope, key: SessionKey) -> SessionKey:
        """Keep ``key`` if its generation is one above the stored one (or nothing is
        stored); return the key stored afterwards: ``key``, or the one that won."""
        ...

    async def refuse(self, scope: Scope, refusal: Refusal) -> None:
        """Record that the provider refused a login with these credentials."""
        ...

    async def discard(self, scope: Scope, generation: int) -> None:
        """Forget the key of ``scope`` if it is still ``generation`` (it was closed)."""
        ...


class MemoryKeyStore:
    """A :class:`KeyStore` in this process's memory (the default)."""

    def __init__(self) -> None:
        self._keys: dict[Scope, SessionKey] = {}
        self._refusals: dict[Scope, Refusal] = {}

    def __repr__(self) -> str:
        return f"<MemoryKeyStore keys={len(self._keys)} refusals={len(self._refusals)}>"

    async def get(self, scope: Scope) -> tuple[SessionKey | None, Refusal | None]:
        return self._keys.get(scope), self._refusals.get(scope)

    async def put(self, scope: Scope, key: SessionKey) -> SessionKey:
        stored = self._keys.get(scope)
        if stored is None or key.generation == stored.generation + 1:
            self._keys[scope] = key
            self._refusals.pop(scope, None)  # these credentials work now
            return key
        return stored

    async def refuse(self, scope: Scope, refusal: Refusal) -> None:
        self._refusals[scope] = refusal

    async def discard(self, scope: Scope, generation: int) -> None:
        stored = self._keys.get(scope)
        if stored is not None and stored.generation == generation:
            # Keep the generation counting up: a tombstone that no client will use.
            self._keys[scope] = SessionKey("", generation + 1, 0.0)


_DEFAULT_STORE = MemoryKeyStore()


def default_key_store() -> MemoryKeyStore:
    """The process-wide in-memory store every client uses unless given another."""
    return _DEFAULT_STORE


class _Flight:
    """The single-flight lock and the open keepers of one scope in this process."""

    __slots__ = ("__weakref__", "holders", "lock", "proven")

    def __init__(self) -> None:
        self.lock = anyio.Lock()
        # Weak: a keeper whose client was dropped unclosed stops counting by itself.
        self.holders: WeakSet[SessionKeeper] = WeakSet()
        # The credential fingerprint a call of this scope has shown to work (gates).
        self.proven: str | None = None


def _flight(scope: Scope) -> _Flight:
    flight = _FLIGHTS.get(scope)
    if flight is None:
        flight = _FLIGHTS[scope] = _Flight()
    return flight


# One per scope while any keeper of that scope lives (keepers hold it strongly).
_FLIGHTS: WeakValueDictionary[Scope, _Flight] = WeakValueDictionary()


def fingerprint(scope: Scope, password: str) -> str:
    """What a refusal is recorded against: a SHA-256 of the scope and the password."""
    data = "\x00".join((*scope, password)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()


class SessionKeeper:
    """Keeps one client's session key fresh, in step with every client of its scope.

    Args:
        scope: ``(provider, service URL, account)``.
        login: logs in and returns a new key; raises ``AuthenticationError`` when the
            provider refuses the credentials and ``ProviderBusyError`` when busy.
        credential: :func:`fingerprint` of the scope and password.
        renew_at: ``renew_at(born)``, epoch seconds when a key born at ``born`` is
            renewed ahead of time.
        store: the :class:`KeyStore` (the process-wide memory store by default).
        busy_attempts: logins tried in all while the provider answers busy.
        on_new_key: called with each new key (to register it for log redaction).
        label: the provider as log lines name it (``"EVERY8D"``).
    """

    def __init__(
        self,
        scope: Scope,
        *,
        login: Callable[[], Awaitable[str]],
        credential: str,
        renew_at: Callable[[float], float],
        store: KeyStore | None = None,
        busy_attempts: int = 5,
        on_new_key: Callable[[str], None] = lambda key: None,
        clock: Callable[[], float] = time.time,
        label: str = "",
    ) -> None:
        self.scope = scope
        self.label = label or scope[0]
        self.store: KeyStore = store if store is not None else _DEFAULT_STORE
        self._login = login
        self._credential = credential
        self._renew_at = renew_at
        self._busy_attempts = busy_attempts
        self._on_new_key = on_new_key
        self.clock = clock
        self._current: SessionKey | None = None
        self._refused: Refusal | None = None
        self._closed = False
        self._flight = _flight(scope)
        self._flight.holders.add(self)

    def __repr__(self) -> str:
        key = self._current
        shown = "none" if key is None else f"generation {key.generation}"
        return f"<SessionKeeper {self.scope[0]}:{self.scope[2]} key={shown}>"

    @property
    def provider(self) -> str:
        return self.scope[0]

    def current(self) -> SessionKey | None:
        """The key to use now, if this client holds a fresh one (no I/O, no await)."""
        key = self._current
        if key is not None and self.clock() < key.renew_at:
            return key
        return None

    async def key(self) -> SessionKey:
        """A fresh key: this client's, the store's, or a new login."""
        key = self.current()
        if key is not None:
            return key
        return await self.renew(self._current)

    async def renew(self, stale: SessionKey | None) -> SessionKey:
        """Replace ``stale`` (refused, old or None): once for every caller that saw it.

        A key some other task or client stored meanwhile is taken without a login.
        """
        async with self._flight.lock:
            self._check_usable()
            stored, refusal = await self.store.get(self.scope)
            if refusal is not None and refusal.credential == self._credential:
                self._refused = refusal
                self._check_usable()
            if (
                stored is not None
                and stored.value
                and (stale is None or stored.generation > stale.generation)
                and self.clock() < stored.renew_at
            ):
                self._current = stored
                self._on_new_key(stored.value)
                return stored
            value = await self._login_once()
            _telemetry.count_renewal(self.provider)
            generation = 1 if stored is None else stored.generation + 1
            born = self.clock()
            won = await self.store.put(
                self.scope, SessionKey(value, generation, self._renew_at(born))
            )
            self._on_new_key(value)
            if won.value != value:
                self._on_new_key(won.value)
            self._current = won
            logger.debug("%s session key renewed (generation %d)", self.provider, won.generation)
            return won

    async def _login_once(self) -> str:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._busy_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=10),
            retry=retry_if_exception_type(ProviderBusyError),
            # Not a bound method: tenacity keeps a cycle to it, which would keep the
            # client alive past its last reference and delay its unclosed warning.
            before_sleep=partial(_log_busy_login, self.label, self._busy_attempts),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._login()
        except AuthenticationError as exc:
            self._refused = await _record_refusal(self.store, self.scope, self._credential, exc)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_usable(self) -> None:
        if self._closed:
            raise ClientClosedError("this client is closed", provider=self.provider)
        if self._refused is not None:
            raise _refusal_error(self._refused, self.provider, "login")

    async def release(self) -> SessionKey | None:
        """Stop using the key; return it if this was its last client here, to be closed.

        Its store entry is then discarded, so no other client picks up a closed key.
        """
        if self._closed:
            return None
        self._closed = True
        self._flight.holders.discard(self)
        key, self._current = self._current, None
        if key is None or not key.value or self._flight.holders:
            return None
        await self.store.discard(self.scope, key.generation)
        return key


class CredentialGate:
    """Sticky refusal for APIs that send the password with every call (no session key).

    EVERY8D's HTTP API, for one, takes ``UID`` and ``PWD`` in every request and blocks
    the account after 10 wrong passwords. So, as a :class:`SessionKeeper` does for
    logins:

    * until a call of this scope has succeeded, calls go **one at a time**: twenty
      tasks calling at once with a wrong password make one request, not twenty;
    * a call the provider answers with ``AuthenticationError`` (or
      ``AccountBlockedError``) records the refusal in the :class:`KeyStore` against a
      :func:`fingerprint` of the credentials, and every later call with them, from any
      client sharing the store, raises the same error at once without a request;
    * once a call has succeeded, calls run concurrently (the proof is kept per scope
      in this process, so a second client of the account does not queue again).

    Args:
        scope: ``(provider, service URL, account)``.
        credential: :func:`fingerprint` of the scope and password.
        store: the :class:`KeyStore` refusals are recorded in (the process-wide memory
            store by default).
    """

    __slots__ = ("_credential", "_flight", "_proven", "_refused", "scope", "store")

    def __init__(self, scope: Scope, *, credential: str, store: KeyStore | None = None) -> None:
        self.scope = scope
        self.store: KeyStore = store if store is not None else _DEFAULT_STORE
        self._credential = credential
        self._refused: Refusal | None = None
        self._proven = False
        self._flight = _flight(scope)  # held strongly: the scope's lock lives while we do

    def __repr__(self) -> str:
        state = "refused" if self._refused else "proven" if self._proven else "unproven"
        return f"<CredentialGate {self.scope[0]}:{self.scope[2]} {state}>"

    async def call(self, run: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``run()`` (one request with the credentials) unless they were refused."""
        if self._proven:
            # The hot path, one frame deep: every await of the request resumes through
            # each frame above it.
            try:
                return await run()
            except AuthenticationError as exc:
                await self._refuse(exc)
                raise
        return await self._first_call(run)

    async def _first_call(self, run: Callable[[], Awaitable[_T]]) -> _T:
        """Until proven: one call at a time, none once refused."""
        if self._refused is not None:
            raise _refusal_error(self._refused, self.scope[0], "call")
        flight = self._flight
        async with flight.lock:
            if flight.proven != self._credential:
                _, refusal = await self.store.get(self.scope)
                if refusal is not None and refusal.credential == self._credential:
                    self._refused = refusal
                    raise _refusal_error(refusal, self.scope[0], "call")
                try:
                    result = await run()
                except AuthenticationError as exc:
                    await self._refuse(exc)
                    raise
                flight.proven = self._credential
                self._proven = True
                return result
            self._proven = True
        return await self.call(run)

    async def _refuse(self, exc: AuthenticationError) -> None:
        self._refused = await _record_refusal(self.store, self.scope, self._credential, exc)
        self._proven = False
        if self._flight.proven == self._credential:
            self._flight.proven = None


async def _record_refusal(
    store: KeyStore, scope: Scope, credential: str, exc: AuthenticationError
) -> Refusal:
    refusal = Refusal(
        credential,
        exc.code,
        exc.message,
        blocked=isinstance(exc, AccountBlockedError),
        provider_message=exc.provider_message,
    )
    await store.refuse(scope, refusal)
    return refusal


def _refusal_error(refused: Refusal, provider: str, what: str) -> AuthenticationError:
    cls = AccountBlockedError if refused.blocked else AuthenticationError
    return cls(
        f"{refused.message} (an earlier {what} with these credentials was refused; "
        "it is not tried again, since the provider blocks an account after a few "
        "failed logins: fix the credentials and create a new client)",
        provider=provider,
        code=refused.code,
        provider_message=refused.provider_message,
    )


def _log_busy_login(label: str, attempts: int, state: RetryCallState) -> None:
    pause = state.next_action.sleep if state.next_action is not None else 0.0
    logger.debug(
        label.replace("%", "%%") + " is busy; logging in again in %.2f s (attempt %d of %d)",
        pause,
        state.attempt_number + 1,
        attempts,
    )
