"""The Python examples in examples/python/ run as a user runs them, and do what they say."""
import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_example(name, *arguments):
    return subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, arguments)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)


def test_the_minimal_mlp_lowers_the_validation_loss_and_moves_only_fed_rows():
    run = run_example("mlp_minimal.py")
    assert run.returncode == 0, run.stdout + run.stderr
    progress = [float(v) for v in re.findall(r"^step +\d+ .*validation loss (\d+\.\d+)$", run.stdout, re.M)]
    assert len(progress) == 7, run.stdout  # step 0 and every 100th of the 600 steps
    initial, final = map(float, re.search(r"validation loss (\d+\.\d+) -> (\d+\.\d+)", run.stdout).groups())
    assert initial == progress[0] and initial > 5.0, run.stdout  # about log 256 = 5.55 untrained
    assert final == progress[-1] and final < 0.9 * initial, run.stdout
    assert "never-fed rows that moved: 0" in run.stdout
    assert run.stdout.rstrip().endswith(": ok")


def test_the_minimal_mlp_names_a_corpus_it_cannot_use(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("too short")
    run = run_example("mlp_minimal.py", short, 10)
    assert run.returncode == 1
    assert f"mlp_minimal: cannot read a corpus from {short}" in run.stderr
