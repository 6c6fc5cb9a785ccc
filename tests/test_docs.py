"""Every ```python block of README.md and docs/*.md runs as written.

Each block is executed on its own, in a fresh namespace, with the current directory set to an
empty temporary folder (so a block must create any file it reads). Blocks that should not run
belong in ```bash / ```text fences.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every fenced block whose info string is ``python`` (or ``py``)."""
    blocks = []
    for m in FENCE.finditer(text):
        if m.group("lang").strip().split(" ")[0].lower() in ("python", "py"):
            indent = len(m.group("indent"))
            code = "\n".join(line[indent:] for line in m.group("body").splitlines())
            blocks.append((text.count("\n", 0, m.start()) + 1, code))
    return blocks


BLOCKS = [(path, line, code) for path in DOCS for line, code in python_blocks(path.read_text())]


def test_the_extractor_finds_blocks_and_only_python_ones() -> None:
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n  ```py\n  y = 2\n  ```\n"
    assert python_blocks(text) == [(2, "x = 1"), (8, "y = 2")]
    assert BLOCKS, "no ```python block in README.md or docs/*.md"


@pytest.mark.parametrize("path, line, code", BLOCKS, ids=[f"{p.relative_to(ROOT)}:{n}" for p, n, _ in BLOCKS])
def test_python_block_runs(path: Path, line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{path.relative_to(ROOT)}:{line}", "exec"), {"__name__": "__doc_block__"})  # noqa: S102
