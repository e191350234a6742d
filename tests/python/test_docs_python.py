"""Every code block of docs/python.md runs, in order, in one namespace (so the page cannot
rot); the blocks assert what they claim."""
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def test_every_python_block_of_docs_python_md_runs():
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) >= 7
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/python.md block {i}", "exec"), namespace)  # noqa: S102
