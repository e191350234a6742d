"""A next_token checkpoint loaded into the same model written in PyTorch
(examples/next_token/torch_model.py) gives the run's validation loss. Skipped without
python3-torch, or without the next_token binary (CTest passes it as XGRAD_NEXT_TOKEN)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")
NEXT_TOKEN = os.environ.get("XGRAD_NEXT_TOKEN")
pytestmark = pytest.mark.skipif(
    not NEXT_TOKEN, reason="XGRAD_NEXT_TOKEN (path of build/examples/next_token) is not set; CTest sets it")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "next_token" / "torch_model.py"
CORPUS = REPO / "examples" / "data" / "genesis_kjv.txt"


def losses_of_a_short_run(tmp_path, flags, script_flags=()):
    """(next_token's val_loss, torch_model.py's) for a 200-step run with `flags`."""
    checkpoint, summary = tmp_path / "ckpt", tmp_path / "run.json"
    run = subprocess.run(
        [NEXT_TOKEN, "--corpus", str(CORPUS), "--steps", "200", "--eval-every", "0", "--samples", "0",
         "--quiet", "--save", str(checkpoint), "--json", str(summary), *flags],
        capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    script = subprocess.run([sys.executable, str(SCRIPT), str(checkpoint), *script_flags],
                            capture_output=True, text=True)
    assert script.returncode == 0, script.stderr
    found = re.search(r"validation loss (\S+) nats per token", script.stdout)
    assert found, script.stdout
    return json.loads(summary.read_text())["val_loss"], float(found.group(1))


def test_a_byte_checkpoint_gives_the_runs_validation_loss_in_pytorch(tmp_path):
    expected, loss = losses_of_a_short_run(tmp_path, [])
    assert loss == pytest.approx(expected, abs=1e-4)


def test_a_word_checkpoint_with_its_own_split_and_windows_gives_the_runs_validation_loss(tmp_path):
    split = ["--validation-fraction", "0.2", "--eval-windows", "3000"]
    expected, loss = losses_of_a_short_run(tmp_path, ["--tokens", "word", "--vocab-size", "500", *split], split)
    assert loss == pytest.approx(expected, abs=1e-4)


def test_a_tied_checkpoint_gives_the_runs_validation_loss_in_pytorch(tmp_path):
    expected, loss = losses_of_a_short_run(tmp_path, ["--tie", "--eval-windows", "5000"], ["--eval-windows", "5000"])
    assert loss == pytest.approx(expected, abs=1e-4)


def test_a_character_checkpoint_gives_the_runs_validation_loss_in_pytorch(tmp_path):
    expected, loss = losses_of_a_short_run(tmp_path, ["--tokens", "char", "--eval-windows", "5000"],
                                           ["--eval-windows", "5000"])
    assert loss == pytest.approx(expected, abs=1e-4)
