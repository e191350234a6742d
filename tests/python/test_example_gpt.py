"""examples/python/gpt.py trains next_token's GPT from Python and gets the C++ tool's losses bit
for bit: the same curve (every measured train and validation loss, as doubles) and the same last
gradient norm as `next_token --model transformer --json` for the same flags."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python" / "gpt.py"
NEXT_TOKEN = os.environ.get("XGRAD_NEXT_TOKEN")
needs_tool = pytest.mark.skipif(not NEXT_TOKEN, reason="XGRAD_NEXT_TOKEN (path of build/examples/next_token) "
                                "is not set; CTest sets it")


def run_both(tmp_path, flags):
    tool = subprocess.run([NEXT_TOKEN, "--model", "transformer", *flags, "--samples", "0", "--quiet",
                           "--json", str(tmp_path / "tool.json")], capture_output=True, text=True, timeout=600)
    assert tool.returncode == 0, tool.stdout + tool.stderr
    ours = subprocess.run([sys.executable, str(EXAMPLE), *flags, "--samples", "1", "--json", str(tmp_path / "py.json")],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    return json.loads((tmp_path / "tool.json").read_text()), json.loads((tmp_path / "py.json").read_text()), ours.stdout


@needs_tool
def test_the_python_gpt_has_the_tools_losses_bit_for_bit_with_dropout_on_the_default_model(tmp_path):
    tool, ours, stdout = run_both(tmp_path, ["--steps", "30", "--warmup", "5", "--eval-every", "10"])
    steps = [p["step"] for p in tool["curve"]]
    assert steps == [0, 1, 2, 5, 10, 20, 30]  # the early measurements at 1/8, 1/4 and 1/2 of 10
    assert [(p["step"], p["train"], p["validation"]) for p in ours["curve"]] == \
        [(p["step"], p["train"], p["validation"]) for p in tool["curve"]]
    assert ours["grad_norm"] == tool["grad_norm"] and len(ours["batch_losses"]) == 30
    assert tool["curve"][-1]["validation"] < tool["curve"][0]["validation"] - 2  # it learned: 5.57 -> about 2.5
    assert stdout.rstrip().splitlines()[-1].startswith("'And God said")  # a sample from gpt.generate


@needs_tool
def test_the_python_gpt_has_the_tools_losses_bit_for_bit_tied_without_bias_and_with_a_given_lr(tmp_path):
    flags = ["--steps", "12", "--warmup", "3", "--eval-every", "8", "--context", "16", "--embed-dim", "32",
             "--heads", "2", "--layers", "1", "--tie", "--no-bias", "--lr", "0.01", "--batch-size", "8",
             "--eval-windows", "64", "--seed", "3", "--dropout", "0.1", "--attention-dropout", "0"]
    tool, ours, _ = run_both(tmp_path, flags)
    assert [p["step"] for p in tool["curve"]] == [0, 1, 2, 4, 8, 12]
    assert [(p["train"], p["validation"]) for p in ours["curve"]] == [(p["train"], p["validation"]) for p in tool["curve"]]
    assert ours["grad_norm"] == tool["grad_norm"]
