"""aiosms.smscenter.email: the Email→SMS mail (pure, hypothesis), and sending it with
aiosmtplib to an aiosmtpd server on 127.0.0.1 in the test's own event loop: envelope and
body, each refusal and failure mapped (nothing sent, or outcome unknown), the missing
extra, and the credentials kept out of logs, errors and reprs."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.header
import email.policy
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, LoginPassword
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiosms import (
    AuthenticationError,
    InvalidRequestError,
    ProviderBusyError,
    ProviderError,
    SendOutcomeUnknownError,
    SmsError,
    TransportError,
)
from aiosms.smscenter.email import MAX_RECIPIENTS, MAX_TEXT, build_email, send_email

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
USER, PASSWORD = "acme-dev", "Zx9+enc/Pw=="
RELAY_USER, RELAY_PASSWORD = "relay@acme.example", "relay-S3cret-pass"
SECRETS = (PASSWORD, f"{USER} {PASSWORD}", RELAY_PASSWORD)


def parsed(message: EmailMessage) -> EmailMessage:
    back = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    return back


def raw_header(message: EmailMessage, name: str) -> str:
    """A header as written, RFC 2047 words decoded, nothing else interpreted."""
    compat = email.message_from_bytes(message.as_bytes(), policy=email.policy.compat32)
    return str(email.header.make_header(email.header.decode_header(compat[name])))


# ------------------------------------------------------------------ build_email


def test_the_mail_the_spec_describes() -> None:
    message = build_email(
        "שלום, your code is 1234 😀", ["054-1234567", "+972521234567", "0541234567"],
        username=USER, password=PASSWORD, sender="Acme",
    )  # fmt: skip
    back = parsed(message)
    assert back["To"].addresses[0].addr_spec == "+972541234567@smscenter.co.il"
    assert [a.addr_spec for a in back["To"].addresses] == [
        "+972541234567@smscenter.co.il", "+972521234567@smscenter.co.il",
    ]  # fmt: skip
    assert str(back["Subject"]) == f"{USER} {PASSWORD}"
    assert raw_header(message, "From") == "Acme"
    assert back.get_content() == "שלום, your code is 1234 😀\r\n"  # SMTP line breaks
    assert back.get_content_charset() == "utf-8"
    assert "Zx9" not in repr(message)


def test_defaults_and_options() -> None:
    message = build_email("hi", "0541234567", username=USER, password=PASSWORD)
    assert raw_header(message, "From") == USER  # the username is the signature
    other = build_email(
        "hi", "0541234567", username=USER, password=PASSWORD,
        sender="Acme Ltd <alerts@acme.example>", domain="SMS.Example.org",
    )  # fmt: skip
    assert str(parsed(other)["To"]) == "+972541234567@sms.example.org"
    assert parsed(other)["From"].addresses[0].addr_spec == "alerts@acme.example"


def test_a_long_password_stays_literal_in_the_subject() -> None:
    password = "p" * 200
    message = build_email("hi", "0541234567", username=USER, password=password)
    assert f"\r\nSubject: {USER} {password}\r\n".encode() in message.as_bytes()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"text": ""}, "empty"),
        ({"text": " \n\t "}, "empty"),
        ({"text": "x" * (MAX_TEXT + 1)}, "characters"),
        ({"text": "a\x00b"}, "control"),
        ({"text": "\ud800"}, "surrogate"),
        ({"text": b"bytes"}, "str"),
        ({"to": "+12025550123"}, "Israeli"),
        ({"to": []}, "at least one"),
        ({"to": [f"05{i:08d}" for i in range(MAX_RECIPIENTS + 1)]}, "at most"),
        ({"username": "two words"}, "username"),
        ({"username": ""}, "username"),
        ({"password": ""}, "password"),
        ({"password": f"{PASSWORD}\r\nBcc: x@evil.example"}, "password"),
        ({"password": f" {PASSWORD}"}, "password"),
        ({"sender": "Acme, Inc"}, "sender"),
        ({"sender": "a@b@c.example"}, "sender"),
        ({"sender": "Acme\r\nBcc: x@evil.example"}, "sender"),
        ({"sender": "x" * 41}, "sender"),
        ({"sender": "ñ@例え.jp"}, "sender"),
        ({"sender": "0.א"}, "scripts"),
        ({"sender": None, "username": "a..b"}, "the username"),
        ({"domain": "not a domain"}, "domain"),
        ({"domain": "smscenter.co.il>"}, "domain"),
    ],
)
def test_bad_input_is_refused_without_echoing_the_password(
    kwargs: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {"text": "hi", "to": "0541234567", "username": USER,
                            "password": PASSWORD, **kwargs}  # fmt: skip
    with pytest.raises(InvalidRequestError, match=match) as info:
        build_email(args.pop("text"), args.pop("to"), **args)
    assert PASSWORD not in str(info.value)
    assert PASSWORD not in repr(info.value)


BODY_CHARS = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    st.sampled_from(["\n", "\r\n", "\r", "\t", "\f", "שלום", "😀", "👩‍👩‍👧", ".", "\n.\n", "From ",
                     "=?utf-8?q?x?=", " "]),
)  # fmt: skip
BODIES = st.lists(BODY_CHARS, min_size=1, max_size=60).map("".join).filter(str.strip)
NATIONAL = st.from_regex(r"5[0-9]{8}", fullmatch=True)
WRITTEN = st.sampled_from(["+972{}", "972{}", "0{}", "0{}-"]).map(str)
USERNAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,14}(\.[A-Za-z0-9_-]{1,14})?",
                          fullmatch=True)  # fmt: skip
PASSWORDS = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(["ש", " ", "€"]),
    min_size=1, max_size=80,
).filter(lambda p: p == p.strip())  # fmt: skip
SIGNATURES = st.from_regex(r"[A-Za-z0-9+'-]{1,8}(?:[ .][A-Za-z0-9+'-]{1,8}){0,3}",
                           fullmatch=True) | st.from_regex(r"[א-ת0-9]{1,8}(?: [א-ת0-9]{1,8}){0,3}",
                                                           fullmatch=True)  # fmt: skip


def written(national: str, form: str) -> str:
    if form == "0{}-":
        return f"0{national[:2]}-{national[2:]}"
    return form.format(national)


@PROPS
@given(
    text=BODIES,
    numbers=st.lists(st.tuples(NATIONAL, WRITTEN), min_size=1, max_size=8),
    username=USERNAMES,
    password=PASSWORDS,
    sender=st.none() | SIGNATURES,
)
def test_build_email_round_trips(
    text: str, numbers: list[tuple[str, str]], username: str, password: str, sender: str | None
) -> None:
    message = build_email(
        text, [written(n, f) for n, f in numbers], username=username, password=password,
        sender=sender,
    )  # fmt: skip
    back = parsed(message)
    expected_to = list(dict.fromkeys(f"+972{n}@smscenter.co.il" for n, _ in numbers))
    assert [a.addr_spec for a in back["To"].addresses] == expected_to
    assert str(back["Subject"]) == f"{username} {password}"
    assert raw_header(message, "Subject") == f"{username} {password}"
    assert raw_header(message, "From") == (username if sender is None else sender)
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    content = back.get_content().replace("\r\n", "\n")
    assert content == (body if body.endswith("\n") else body + "\n")


# ------------------------------------------------------------------ a local SMTP server


class Recorder:
    """An aiosmtpd handler that keeps each mail, and refuses or stalls on request."""

    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.refuse_mail: str | None = None
        self.refuse_rcpt: dict[str, str] = {}
        self.data_answer = "250 2.0.0 queued as 42"
        self.data_action: Callable[[Any], Any] | None = None
        self.stall = asyncio.Event()

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_action is not None:
            result = self.data_action(server)
            if asyncio.iscoroutine(result):
                await result
        if self.data_answer.startswith("250"):
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.data_answer


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:  # fmt: skip
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        RELAY_USER.encode(), RELAY_PASSWORD.encode(),
    )  # fmt: skip
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@contextlib.asynccontextmanager
async def smtp_server(handler: Recorder, **options: Any) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    sessions: list[SMTPServer] = []

    def session() -> SMTPServer:
        sessions.append(SMTPServer(handler, hostname="localhost", loop=loop, **options))
        return sessions[-1]

    server = await loop.create_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        handler.stall.set()
        server.close()
        await server.wait_closed()
        for smtp in sessions:  # close what the clients left open, and let the tasks end
            if smtp.transport is not None:
                smtp.transport.close()
        for _ in range(5):
            await asyncio.sleep(0)


def mail(**kwargs: Any) -> EmailMessage:
    args: dict[str, Any] = {"username": USER, "password": PASSWORD, "sender": "Acme", **kwargs}
    return build_email("שלום 😀 code 1234", ["054-1234567", "0521234567"], **args)


RECIPIENTS = ["+972541234567@smscenter.co.il", "+972521234567@smscenter.co.il"]


def assert_secret_free(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def aiosms_records(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test server's own (aiosmtpd logs to ``mail.log``)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))


async def test_send_email_delivers_envelope_and_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    async with smtp_server(handler, authenticator=authenticator, auth_require_tls=False) as port:
        await send_email(
            mail(), smtp_host="127.0.0.1", smtp_port=port, smtp_username=RELAY_USER,
            smtp_password=RELAY_PASSWORD, timeout=5,
        )  # fmt: skip
    [(sender, recipients, content)] = handler.mails
    assert sender == RELAY_USER  # From is a bare signature: the login is the envelope sender
    assert recipients == RECIPIENTS
    back = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    assert back.get_content().replace("\r\n", "\n") == "שלום 😀 code 1234\n"
    assert str(back["Subject"]) == f"{USER} {PASSWORD}"
    assert [a.addr_spec for a in back["To"].addresses] == RECIPIENTS
    log = aiosms_records(caplog)
    # aiosmtplib has no loggers of its own; had it any, the root capture would hold them.
    assert not [name for name in logging.root.manager.loggerDict if name.startswith("aiosmtp")]
    assert "unencrypted" in log  # the warning that the credentials went in the clear
    assert_secret_free(log)


@pytest.mark.parametrize(
    ("kwargs", "sender"),
    [
        ({}, "<>"),  # a bare signature and no login: the null sender
        ({"envelope_from": "bounces@acme.example"}, "bounces@acme.example"),
        ({"message": {"sender": "Acme <alerts@acme.example>"}}, "alerts@acme.example"),
    ],
)
async def test_the_envelope_sender(kwargs: dict[str, Any], sender: str) -> None:
    handler = Recorder()
    message = mail(**kwargs.pop("message", {}))
    async with smtp_server(handler) as port:
        await send_email(message, smtp_host="127.0.0.1", smtp_port=port, timeout=5, **kwargs)
    assert [(m[0], m[1]) for m in handler.mails] == [(sender, RECIPIENTS)]


async def test_a_server_without_8bitmime_gets_7bit(monkeypatch: pytest.MonkeyPatch) -> None:
    handler = Recorder()
    monkeypatch.setattr("aiosmtplib.SMTP.supports_extension", lambda self, name: False)
    async with smtp_server(handler) as port:
        await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=5)
    [(_, _, content)] = handler.mails
    assert content.isascii()
    back = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    assert back.get_content().replace("\r\n", "\n") == "שלום 😀 code 1234\n"


async def test_a_refused_recipient_sends_nothing() -> None:
    handler = Recorder()
    handler.refuse_rcpt = {RECIPIENTS[1]: "550 5.1.1 no such subscriber"}
    async with smtp_server(handler) as port:
        with pytest.raises(ProviderError) as info:
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=5)
        assert handler.mails == []
        handler.refuse_rcpt = dict.fromkeys(RECIPIENTS, "451 4.3.0 try later")
        with pytest.raises(ProviderBusyError):
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=5)
    assert not isinstance(info.value, ProviderBusyError | SendOutcomeUnknownError)
    assert "1 of 2 recipients (+972521234567); nothing was sent" in str(info.value)
    assert info.value.code == "550"
    assert handler.mails == []


@pytest.mark.parametrize(
    ("where", "answer", "error"),
    [
        ("mail", "553 5.7.1 sender rejected", ProviderError),
        ("data", "554 5.7.1 no thanks", ProviderError),
        ("data", f"554 5.7.1 bad subject {USER} {PASSWORD}", ProviderError),  # echoed
        ("data", "452 4.3.1 insufficient storage", ProviderBusyError),
    ],
)
async def test_a_refusal_means_nothing_was_sent(
    where: str, answer: str, error: type[SmsError], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    if where == "mail":
        handler.refuse_mail = answer
    else:
        handler.data_answer = answer
    async with smtp_server(handler) as port:
        with pytest.raises(error) as info:
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=5)
    assert type(info.value) is error
    assert "nothing was sent" in str(info.value)
    assert info.value.code == answer[:3]
    assert_secret_free(str(info.value), repr(info.value), aiosms_records(caplog))


async def test_a_failure_after_the_text_left_is_outcome_unknown() -> None:
    handler = Recorder()

    async def stall(server: Any) -> None:
        await handler.stall.wait()  # set when the server closes

    handler.data_action = stall
    async with smtp_server(handler) as port:
        with pytest.raises(SendOutcomeUnknownError) as info:
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=0.5)
        assert "may have been accepted" in str(info.value)
        handler.data_action = lambda server: server.transport.abort()
        with pytest.raises(SendOutcomeUnknownError):
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=5)
    assert_secret_free(str(info.value), repr(info.value))


async def test_wrong_relay_credentials_are_an_authentication_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    handler = Recorder()
    async with smtp_server(handler, authenticator=authenticator, auth_require_tls=False) as port:
        with pytest.raises(AuthenticationError) as wrong:
            await send_email(
                mail(), smtp_host="127.0.0.1", smtp_port=port, smtp_username=RELAY_USER,
                smtp_password=RELAY_PASSWORD + "x", timeout=5,
            )  # fmt: skip
    async with smtp_server(handler) as port:  # offers no AUTH at all
        with pytest.raises(AuthenticationError) as unsupported:
            await send_email(
                mail(), smtp_host="127.0.0.1", smtp_port=port, smtp_username=RELAY_USER,
                smtp_password=RELAY_PASSWORD, timeout=5,
            )  # fmt: skip
    assert handler.mails == []
    assert wrong.value.code == "535"
    for error in (wrong.value, unsupported.value):
        assert_secret_free(str(error), repr(error))
        assert RELAY_PASSWORD + "x" not in str(error)
    assert_secret_free(aiosms_records(caplog))
    assert (RELAY_PASSWORD + "x") not in aiosms_records(caplog)


async def test_unreachable_servers_are_transport_errors_and_nothing_was_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(TransportError) as refused:
        await send_email(mail(), smtp_host="127.0.0.1", smtp_port=closed_port, timeout=5)
    assert not isinstance(refused.value, SendOutcomeUnknownError)
    assert refused.value.retryable
    assert "nothing was sent" in str(refused.value)

    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(ConnectionError):
                await reader.read(100)  # never greets; the client gives up first
                writer.close()
                await writer.wait_closed()
        finally:
            hung_up.set()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(TransportError) as timed_out:
            await send_email(mail(), smtp_host="127.0.0.1", smtp_port=port, timeout=0.3)
        await asyncio.wait_for(hung_up.wait(), 5)  # the client closed its end
    finally:
        server.close()
        await server.wait_closed()
    assert not isinstance(timed_out.value, SendOutcomeUnknownError)
    assert timed_out.value.retryable


async def test_starttls_demanded_of_a_server_without_it() -> None:
    handler = Recorder()
    async with smtp_server(handler) as port:
        with pytest.raises(TransportError) as info:
            await send_email(
                mail(), smtp_host="127.0.0.1", smtp_port=port, start_tls=True, timeout=5
            )
    assert not isinstance(info.value, SendOutcomeUnknownError)
    assert handler.mails == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"smtp_host": ""},
        {"smtp_port": 0},
        {"timeout": 0},
        {"use_tls": True, "start_tls": True},
        {"smtp_password": RELAY_PASSWORD},  # without a username
        {"envelope_from": "not an address"},
    ],
)
async def test_bad_arguments_are_refused_before_connecting(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"smtp_host": "127.0.0.1", "smtp_port": 9, **kwargs}
    with pytest.raises(InvalidRequestError) as info:
        await send_email(mail(), **args)
    assert_secret_free(str(info.value))


async def test_a_mail_without_recipients_is_refused() -> None:
    message = mail()
    del message["To"]
    with pytest.raises(InvalidRequestError, match="recipients"):
        await send_email(message, smtp_host="127.0.0.1", smtp_port=9)


async def test_without_the_extra_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "aiosmtplib", None)  # as if it were not installed
    with pytest.raises(ImportError) as info:
        await send_email(mail(), smtp_host="127.0.0.1", smtp_port=9)
    assert str(info.value) == 'send_by_email needs aiosmtplib: pip install "aiosms[email]"'
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    build_email("the pure part needs no extra", "0541234567", username=USER, password=PASSWORD)
