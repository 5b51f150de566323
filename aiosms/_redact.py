"""Redaction: secrets (passwords, session keys, tokens) never reach a log line.

A :class:`Redactor` knows each secret in every form it may take on the wire (raw,
XML-escaped, URL-encoded) and patterns for secrets that arrive before anyone knows them
(a new session key in the very reply that brings it), and replaces them by ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

__all__ = ["Redactor"]

_LOG_LIMIT: Final = 4000


class Redactor:
    """The secrets of one transport, and the redaction of its log lines."""

    __slots__ = ("_secret_patterns", "_secrets")

    def __init__(self) -> None:
        self._secrets: dict[str, None] = {}
        self._secret_patterns: list[re.Pattern[str]] = []

    def add_secret(self, secret: str) -> None:
        """Hide ``secret`` (and its XML- and URL-escaped forms, including every byte as
        ``%XX``, as the EVERY8D HTTP forms write non-ASCII values) in every log line."""
        xml_forms = (escape(secret), escape(secret, {"\r": "&#13;", '"': "&quot;"}))
        every_byte = "%" + secret.encode("utf-8", "surrogatepass").hex("%").upper()
        url_forms = (quote(secret, safe=""), quote_plus(secret), every_byte)
        forms = {secret, *xml_forms, *url_forms} - {"", "%"}
        # Longest first, so a secret that contains another is hidden whole.
        ordered = sorted(forms.union(self._secrets), key=len, reverse=True)
        self._secrets = dict.fromkeys(ordered)

    def add_secret_pattern(self, pattern: str) -> None:
        """Hide what the named group ``secret`` of ``pattern`` matches in every log line:
        for secrets that arrive in a reply before anyone knows them (a new session key)."""
        compiled = re.compile(pattern)
        if "secret" not in compiled.groupindex:
            raise ValueError("the pattern needs a group named 'secret'")
        self._secret_patterns.append(compiled)

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        for pattern in self._secret_patterns:
            text = pattern.sub(_mask_secret_group, text)
        for secret in self._secrets:  # kept longest first by add_secret
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def log_text(self, body: bytes | Mapping[str, str] | None) -> str:
        """A body (bytes, or a form/query mapping) as a redacted, trimmed log text."""
        if body is None:
            return ""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else _pairs(body)
        text = self.redact(text)
        return text if len(text) <= _LOG_LIMIT else text[:_LOG_LIMIT] + f"… ({len(text)} chars)"


def _pairs(mapping: Mapping[str, str]) -> str:
    """A form or query for a log line, written as is: repr() would escape backslashes
    and so hide a secret from redaction."""
    return "&".join(f"{key}={value}" for key, value in mapping.items())


def _mask_secret_group(match: re.Match[str]) -> str:
    start, end = match.span("secret")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + "***" + whole[end - offset :]
