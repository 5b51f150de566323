"""The command line demo (README's first command), run in-process."""

from __future__ import annotations

import pytest

from aiosms import cli


def test_demo_streams_every_recipient_to_a_final_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--delivery-time", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "EVERY8D simulator listening on http://127.0.0.1:" in out
    assert "sent batch " in out
    assert "8 messages" in out
    # Each number's fate is set by its last digit (see cli.DEMO_NUMBERS).
    assert "summary: 5 delivered, 1 expired, 2 failed" in out
    assert "reply from +886955666775: 'OK'" in out
    assert "credit left: 992.00 (spent 8.00)" in out
    assert out.rstrip().endswith("all recipients final")
    # Every recipient's change to its final state is shown once.
    finals = [line for line in out.splitlines() if "-> delivered" in line]
    assert len(finals) == 5


def test_demo_over_soap_12(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--soap-version", "1.2", "--delivery-time", "0.1"]) == 0
    assert "(SOAP 1.2)" in capsys.readouterr().out


def test_unknown_command_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["bogus"])
    assert info.value.code == 2
    assert "usage: aiosms" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon", "3601"])
def test_a_bad_delivery_time_is_a_usage_error_not_a_traceback(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--delivery-time", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--delivery-time" in err
    assert "Traceback" not in err
