"""Every python block of docs/python.md and of README.md runs, in order, in one namespace per
page (so the pages cannot rot); the blocks assert what they claim."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page, at_least", [("docs/python.md", 7), ("README.md", 2)])
def test_every_python_block_of_the_page_runs_in_order(page, at_least):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S)
    assert len(blocks) >= at_least, f"{page} lost its python blocks"
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page} python block {i}", "exec"), namespace)  # noqa: S102
