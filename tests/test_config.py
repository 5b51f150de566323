"""aiosms.from_url / from_env and the SmsClient protocol every client satisfies."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aiosms
from aiosms.testing import Simulator


@pytest.mark.parametrize(
    ("url", "cls", "expected"),
    [
        (
            "every8d+soap://user:p%40ss@oms.every8d.com/company?soap=1.2&timeout=5",
            "Every8dSoapClient",
            {"base_url": "https://oms.every8d.com/company", "soap_version": "1.2"},
        ),
        ("every8d+http://uid:pw@biz2.every8d.com", "Every8dHttpClient",
         {"base_url": "https://biz2.every8d.com"}),
        ("eims://acc:pw@10.0.0.5:20003?key=K", "EimsClient",
         {"base_url": "http://10.0.0.5:20003"}),
        ("eims+https://acc:pw@gw.example:8443", "EimsClient",
         {"base_url": "https://gw.example:8443"}),
        ("smscenter://user:pw@www.smscenter.co.il?sender=Shop", "SmsCenterClient",
         {"base_url": "https://www.smscenter.co.il", "sender": "Shop"}),
        ("every8d+soap+http://demo:demo-password@127.0.0.1:8080", "Every8dSoapClient",
         {"base_url": "http://127.0.0.1:8080"}),
    ],
)  # fmt: skip
def test_each_scheme_makes_its_client(url: str, cls: str, expected: dict[str, str]) -> None:
    client = aiosms.from_url(url)
    assert type(client).__name__ == cls
    assert isinstance(client, aiosms.SmsClient)
    for name, value in expected.items():
        assert getattr(client, name) == value
    assert "pw" not in repr(client)
    assert "p@ss" not in repr(client)


@settings(max_examples=60, deadline=None)
@given(password=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20))
def test_percent_encoded_secrets_arrive_whole(password: str) -> None:
    client = aiosms.from_url(f"eims://acc:{quote(password, safe='')}@10.0.0.5:1")
    assert client._secrets[0] == password  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("twilio://u:secret@h", "every8d+soap://, every8d+http://, eims://, smscenter://"),
        ("eims://u:secret@h?bogus=1", "key, max_connections, parallel_parts, timeout, tz"),
        ("eims://u@h", "user:password@host"),
        ("eims://u:secret@h?timeout=soon", "not a float"),
        ("eims://u:secret@h?tz=Mars/Olympus", "not a time zone"),
        ("smscenter://u:secret@www.smscenter.co.il", "sender"),
        ("eims://u:secret@h:99999", "not a URL"),
    ],
)
def test_refusals_name_what_is_valid_and_never_the_password(url: str, says: str) -> None:
    with pytest.raises(aiosms.InvalidRequestError) as info:
        aiosms.from_url(url)
    assert "secret" not in str(info.value)
    assert says in str(info.value)


def test_overrides_win_and_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    client = aiosms.from_url("eims://acc:pw@h:1?parallel_parts=2", parallel_parts=5)
    assert client._parts.total_tokens == 5  # type: ignore[attr-defined]
    monkeypatch.setenv("AIOSMS_URL", "every8d+http://uid:pw@oms.every8d.com")
    assert type(aiosms.from_env()).__name__ == "Every8dHttpClient"
    monkeypatch.delenv("AIOSMS_URL")
    with pytest.raises(aiosms.InvalidRequestError, match="AIOSMS_URL"):
        aiosms.from_env()


async def test_a_url_pointing_at_the_simulator_works_for_every_provider(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiosms")
    async with Simulator(delivery_time=0.05) as sim:
        port = sim.url.rsplit(":", 1)[1]
        urls = {
            "every8d+soap+http": "0912345670",
            "every8d+http+http": "0912345670",
            "eims": "886912345670",
            "smscenter+http": "0541234560",
        }
        for scheme, number in urls.items():
            query = "?sender=Acme" if scheme.startswith("smscenter") else ""
            url = f"{scheme}://demo:demo-password@127.0.0.1:{port}{query}"
            async with aiosms.from_url(url) as sms:
                result = await sms.send("hello", number)
                assert result.sent == 1, scheme
                assert await sms.balance() is not None
    assert "demo-password" not in caplog.text
