"""The exceptions aiosms raises.

Every error is an :class:`SmsError`; catch that to catch them all::

    SmsError
    ├── AuthenticationError          wrong user or password (never retried)
    ├── AccountBlockedError          the provider locked the account
    ├── SessionExpiredError          the session key was refused (renewed internally)
    ├── InsufficientCreditError      nothing was sent for lack of credit
    ├── InvalidRequestError          bad input, caught before any request (also a ValueError)
    ├── ProviderError                the provider answered with an error code
    │   └── ProviderBusyError        the provider asked us to try again later
    ├── TransportError               the request failed on the way (connect, timeout, HTTP)
    │   └── SendOutcomeUnknownError  a send failed after it may have reached the provider
    ├── ResponseFormatError          the provider answered something we cannot parse
    └── ClientClosedError            the client was used after ``aclose()`` (also a RuntimeError)

Every error carries ``provider`` (e.g. ``"every8d"``) and ``code``, the provider's raw
code where there is one. The message is aiosms's English explanation; what the provider
itself said (often in Chinese or Hebrew) is kept beside it in ``provider_message``.
Messages never contain passwords or session keys.
"""

from __future__ import annotations

__all__ = [
    "AccountBlockedError",
    "AuthenticationError",
    "ClientClosedError",
    "InsufficientCreditError",
    "InvalidRequestError",
    "ProviderBusyError",
    "ProviderError",
    "ResponseFormatError",
    "SendOutcomeUnknownError",
    "SessionExpiredError",
    "SmsError",
    "TransportError",
]


class SmsError(Exception):
    """Base class of every error aiosms raises.

    Attributes:
        message: a human-readable explanation.
        provider: which provider the error concerns (``"every8d"``, ...) or ``None``.
        code: the provider's raw error/status code, as text, where there is one.
        provider_message: the provider's own words, as it sent them, where it sent any
            (``"手機格式不符:+1-202-895-1800"``); ``message`` explains them in English.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        provider_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code
        self.provider_message = provider_message or None

    def __str__(self) -> str:
        where = f"[{self.provider}] " if self.provider else ""
        code = f" (code {self.code})" if self.code is not None else ""
        said = f"; the provider said: {self.provider_message}" if self.provider_message else ""
        return f"{where}{self.message}{code}{said}"

    def __repr__(self) -> str:
        name = type(self).__name__
        said = f", provider_message={self.provider_message!r}" if self.provider_message else ""
        return f"{name}({self.message!r}, provider={self.provider!r}, code={self.code!r}{said})"


class AuthenticationError(SmsError):
    """The provider refused the credentials. Never retried: providers lock accounts."""


class AccountBlockedError(AuthenticationError):
    """The provider has blocked the account (e.g. EVERY8D after 10 failed logins)."""


class SessionExpiredError(SmsError):
    """The session key was refused. Clients renew the key and repeat the call once;
    you only see this error if the renewed key is refused too."""


class InsufficientCreditError(SmsError):
    """Nothing was sent because the account has no credit left.

    ``result`` holds the provider's answer (a :class:`aiosms.SendResult`) where one came.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        provider_message: str | None = None,
        result: object | None = None,
    ) -> None:
        super().__init__(message, provider=provider, code=code, provider_message=provider_message)
        self.result = result


class InvalidRequestError(SmsError, ValueError):
    """The arguments are invalid; raised before any request is made."""


class ProviderError(SmsError):
    """The provider answered with an error. ``code`` and ``message`` are the provider's."""


class ProviderBusyError(ProviderError):
    """The provider said it is busy and asked to try again later (EVERY8D ``-97``)."""


class TransportError(SmsError):
    """The HTTP exchange failed: connection refused, timeout, unexpected HTTP status.

    Attributes:
        status: the HTTP status, where one came back.
        retryable: True when the failure was transient and repeating the call is safe.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        provider_message: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, provider=provider, code=code, provider_message=provider_message)
        self.status = status
        self.retryable = retryable


class SendOutcomeUnknownError(TransportError):
    """A send failed after the request may have reached the provider.

    The message may or may not have been sent (and charged). aiosms never retries
    such a send by itself; check the provider's records (its delivery reports, or
    your account's send log) before sending again.

    The same holds for a send *you* cancel, for example with ``asyncio.timeout()`` or
    by cancelling its task, once its request has left: aiosms cannot know whether the
    provider received it, and the cancellation reaches you as ``CancelledError`` (or
    ``TimeoutError``), not as this error. In a fault soak, 200 of 439 sends cancelled
    that way had in fact been accepted. Give a send the time it needs (the client's
    ``timeout=``, 30 s by default, raises this error instead) rather than cutting it
    short from outside.
    """


class ResponseFormatError(SmsError):
    """The provider answered something aiosms cannot parse (malformed or hostile)."""


class ClientClosedError(SmsError, RuntimeError):
    """The client was used after ``aclose()``."""
