"""Clients configured by one URL (as ``DATABASE_URL`` configures a database):
:func:`from_url` and :func:`from_env`.

::

    every8d+soap://user:password@oms.every8d.com/company?soap=1.2
    every8d+http://uid:password@oms.every8d.com
    eims://account:password@10.0.0.5:20003?key=SIGNING-KEY&tz=Asia/Taipei
    smscenter://user:password@www.smscenter.co.il?sender=Shop

EVERY8D and SMSCenter are reached over HTTPS, EIMS over HTTP (its gateways are deployed
per customer, on a port); ``+https`` or ``+http`` after the scheme says otherwise
(``eims+https://…``, ``every8d+soap+http://demo:demo-password@127.0.0.1:8080`` for the
simulator). Secrets are percent-encoded as in any URL (``p%40ss`` for ``p@ss``). The
provider packages are imported only for the scheme asked for. The URL never appears
unredacted in an error.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidRequestError

if TYPE_CHECKING:
    from ._protocol import SmsClient

__all__ = ["ENV_VAR", "SCHEMES", "from_env", "from_url", "redact_url"]

ENV_VAR: Final = "AIOSMS_URL"


def _number(kind: type[float] | type[int]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise InvalidRequestError(f"not a {kind.__name__}: {text!r:.20}") from None

    return convert


def _zone(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequestError(f"not a time zone: {text!r:.40}") from None


_COMMON: Final[Mapping[str, tuple[str, Callable[[str], Any]]]] = {
    "timeout": ("timeout", _number(float)),
    "max_connections": ("max_connections", _number(int)),
}

# scheme -> (client class, default transport, its URL options -> (keyword, converter))
SCHEMES: Final[Mapping[str, tuple[str, str, Mapping[str, tuple[str, Callable[[str], Any]]]]]] = {
    "every8d+soap": (
        "aiosms.every8d.soap:Every8dSoapClient",
        "https",
        {"soap": ("soap_version", str), "namespace": ("namespace", str)},
    ),
    "every8d+http": ("aiosms.every8d.http:Every8dHttpClient", "https", {}),
    "eims": (
        "aiosms.eims.client:EimsClient",
        "http",
        {"key": ("key", str), "tz": ("tz", _zone), "parallel_parts": ("parallel_parts", int)},
    ),
    "smscenter": (
        "aiosms.smscenter.client:SmsCenterClient",
        "https",
        {"sender": ("sender", str), "soap": ("soap_version", str), "parallel": ("parallel", int)},
    ),
}
"""The URL schemes :func:`from_url` knows."""


def redact_url(url: str) -> str:
    """``url`` with its password (and any ``key=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            name = user.split(":", 1)[0]
            netloc = f"{name}:***@{host}" if ":" in user else f"{name}@{host}"
        query = "&".join(
            f"{k}=***" if k.lower() in ("key", "password") else f"{k}={v}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        return parts._replace(netloc=netloc, query=query).geturl()
    except ValueError:
        return "<an unreadable URL>"


def from_url(url: str, **overrides: Any) -> SmsClient:
    """The client a URL describes; keyword ``overrides`` are passed to it as well (and
    win over the URL's options), e.g. ``session=`` or ``key_store=``::

        async with aiosms.from_url(os.environ["AIOSMS_URL"]) as sms:
            await sms.send("Your code is 1234", to="+886912345678")

    Raises:
        InvalidRequestError: an unknown scheme or option, no account or password, a
            value of the wrong kind; the message names the valid ones and never holds
            the password.
    """
    if not isinstance(url, str):
        raise InvalidRequestError(f"from_url() takes a str, not {type(url).__name__}")
    shown = redact_url(url)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidRequestError(f"not a URL ({exc}): {shown}") from None
    scheme = parts.scheme.lower()
    transport = None
    for suffix in ("+https", "+http"):  # every8d+http is a scheme; every8d+http+http too
        if scheme not in SCHEMES and scheme.endswith(suffix):
            scheme, transport = scheme[: -len(suffix)], suffix[1:]
            break
    known = SCHEMES.get(scheme)
    if known is None:
        valid = ", ".join(f"{s}://" for s in SCHEMES)
        raise InvalidRequestError(f"unknown scheme {parts.scheme!r} in {shown}; use {valid}")
    target, default_transport, options = known
    if not parts.username or parts.password is None or not parts.hostname:
        raise InvalidRequestError(f"the URL needs user:password@host: {shown}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    base_url = f"{transport or default_transport}://{host}"
    if port is not None:
        base_url += f":{port}"
    base_url += parts.path.rstrip("/")
    kwargs: dict[str, Any] = {"base_url": base_url}
    allowed = {**_COMMON, **options}
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        spec = allowed.get(name)
        if spec is None:
            valid = ", ".join(sorted(allowed))
            raise InvalidRequestError(
                f"unknown option {name!r} for {scheme}:// in {shown}; its options: {valid}"
            )
        keyword, convert = spec
        kwargs[keyword] = convert(value)
    kwargs.update(overrides)
    if scheme == "smscenter" and not kwargs.get("sender"):
        raise InvalidRequestError(
            f"smscenter:// needs the sender name messages show: add ?sender=… to {shown}"
        )
    module, _, name = target.partition(":")
    client = getattr(importlib.import_module(module), name)
    made: SmsClient = client(unquote(parts.username), unquote(parts.password), **kwargs)
    return made


def from_env(name: str = ENV_VAR, **overrides: Any) -> SmsClient:
    """:func:`from_url` of the environment variable ``AIOSMS_URL`` (or ``name``)."""
    url = os.environ.get(name)
    if not url:
        raise InvalidRequestError(
            f"set {name} to a provider URL, e.g. "
            f"every8d+soap://user:{quote('password')}@oms.every8d.com"
        )
    return from_url(url, **overrides)
