"""bench/python_moons_bench.py runs as bench/RESULTS.md shows it (short, untimed here), and its
PyTorch twin of the moons step computes what examples/python/moons.py computes: over
micrograd's 100 steps from the same weights the two losses agree."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the twin is PyTorch; a skip here fails CI (conftest.py)

import xgrad  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    # The bench takes the build directory and imports xgrad from its python/ folder.
    return Path(xgrad.__file__).resolve().parent.parent.parent


def test_the_moons_bench_times_every_part_and_its_pytorch_twin_follows_the_same_losses(tmp_path):
    records = tmp_path / "moons.json"
    run = subprocess.run([sys.executable, str(REPO / "bench" / "python_moons_bench.py"), "--build", str(build_dir()),
                          "--rounds", "1", "--repeats", "5", "--json", str(records)],
                         capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    worst = float(re.search(r"losses differ by at most (\S+) relative", run.stdout).group(1))
    assert worst < 1e-5, run.stdout  # float32 in both, summed in different orders
    cases = {r["case"]: r for r in json.loads(records.read_text())}
    assert sorted(cases) == sorted(["moons forward", "moons backward", "moons update", "moons step",
                                    "a * b, 0-d, recorded"])
    for record in cases.values():
        assert record["xgrad_s"] > 0 and record["torch_s"] > 0, record
