"""The public surface: __all__, the README and the docs stay in step."""

from __future__ import annotations

import inspect
from pathlib import Path

import aiosms
import aiosms.testing

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md").read_text() + "".join(
    p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))
)


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    for name in aiosms.__all__:
        assert hasattr(aiosms, name), name
    public = {
        name
        for name, value in vars(aiosms).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", "").startswith("aiosms")
    }
    assert public <= set(aiosms.__all__)


def test_every_exported_name_is_documented() -> None:
    missing = [name for name in aiosms.__all__ if name not in DOCS and name != "__version__"]
    assert missing == []


def test_errors_carry_provider_and_code() -> None:
    for name in aiosms.__all__:
        value = getattr(aiosms, name)
        if inspect.isclass(value) and issubclass(value, Exception):
            assert issubclass(value, aiosms.SmsError), name
            err = value("boom", provider="every8d", code="-1")
            assert (err.provider, err.code) == ("every8d", "-1")
            assert "boom" in str(err)


def test_testing_exports_exist() -> None:
    for name in aiosms.testing.__all__:
        assert hasattr(aiosms.testing, name), name
