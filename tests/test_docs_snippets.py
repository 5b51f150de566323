"""Every Python snippet in README.md and docs/ compiles (fragments may await at top
level), and every one that runs on its own against the simulator
(``asyncio.run(main())`` with a ``Simulator``) runs, so none goes stale."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for n, match in enumerate(_BLOCK.finditer(page.read_text()), 1):
            found.append((f"{page.name}#{n}", match.group(1)))
    return found


SNIPPETS = snippets()
RUNNABLE = [(name, code) for name, code in SNIPPETS
            if "asyncio.run(main())" in code and "Simulator(" in code]  # fmt: skip


def test_there_are_snippets_to_check() -> None:
    assert len(SNIPPETS) >= 20
    assert len(RUNNABLE) >= 5


@pytest.mark.parametrize(("name", "code"), SNIPPETS, ids=[n for n, _ in SNIPPETS])
def test_every_snippet_compiles(name: str, code: str) -> None:
    # Fragments may await at top level, as in ``python -m asyncio``.
    compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize(("name", "code"), RUNNABLE, ids=[n for n, _ in RUNNABLE])
def test_every_self_contained_snippet_runs(
    name: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exec(compile(code, name, "exec"), {"__name__": "__snippet__"})  # noqa: S102 (our docs)
    assert capsys.readouterr().out  # it printed what it promised
