"""examples/python/moons.py, micrograd's demo with xgrad, runs as a user runs it, reaches
micrograd's accuracy, and follows micrograd's published training run step by step."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"
sys.path.insert(0, str(EXAMPLES))
import moons  # noqa: E402

# The output of micrograd's demo.ipynb (github.com/karpathy/micrograd, the training cell):
# step -> (total loss, accuracy in %), computed by micrograd in float64.
MICROGRAD = {
    0: (0.8958441028683222, 50.0), 10: (0.24507023853658053, 91.0), 20: (0.18977522856087634, 91.0),
    30: (0.11731297569011848, 95.0), 40: (0.06016009895234464, 100.0), 50: (0.09875114765619622, 96.0),
    60: (0.0325971115781023, 99.0), 70: (0.014229870065926908, 100.0), 80: (0.012318500800515763, 100.0),
    90: (0.010984458327280174, 100.0), 99: (0.010978370135492717, 100.0),
}


def run_moons(*arguments):
    return subprocess.run([sys.executable, str(EXAMPLES / "moons.py"), *map(str, arguments)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)


def test_the_moons_demo_classifies_every_training_point_and_says_so():
    run = run_moons()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "100 points, MLP 2-16-16-1, 337 parameters" in run.stdout  # micrograd's count
    assert re.search(r"^after 100 steps: loss \d\.\d+, accuracy 100\.0% on the training points: ok$",
                     run.stdout, re.M), run.stdout


def test_the_moons_demo_follows_micrograds_published_run_step_by_step():
    run = run_moons()
    assert run.returncode == 0, run.stdout + run.stderr
    printed = {int(k): (float(loss), float(accuracy)) for k, loss, accuracy in
               re.findall(r"^step (\d+) loss (\d+\.\d+), accuracy (\d+\.\d)%$", run.stdout, re.M)}
    assert sorted(printed) == sorted(MICROGRAD), run.stdout
    for step, (loss, accuracy) in MICROGRAD.items():
        # float32 matrices against float64 scalars, 100 SGD steps apart at most
        assert abs(printed[step][0] - loss) <= 1e-4 * loss, (step, printed[step], loss)
        assert printed[step][1] == accuracy, (step, printed[step], accuracy)


def test_the_moons_demo_exits_nonzero_when_training_stops_short_of_every_point():
    run = run_moons("--steps", 2)  # micrograd is at 77% after two steps
    assert run.returncode == 1, run.stdout + run.stderr
    assert "accuracy 100.0%" not in run.stdout.splitlines()[-1]
    assert run.stdout.rstrip().endswith("FAILED (micrograd reaches 100%)"), run.stdout


def test_make_moons_without_noise_puts_half_the_points_on_each_half_circle():
    X, y = moons.make_moons(100, 0.0, np.random.RandomState(0))
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [0, 1] and (y == 0).sum() == 50
    upper, lower = X[y == 0], X[y == 1]
    # sklearn's moons: (cos t, sin t) and (1 - cos t, 1/2 - sin t) for t in [0, pi]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (upper[:, 1] >= 0).all() and (lower[:, 1] <= 0.5).all()
    # evenly spaced angles, t = pi * k / 49: the extreme points are the ends of each arc
    np.testing.assert_allclose(sorted(upper[:, 0]), sorted(np.cos(np.pi * np.arange(50) / 49)), atol=1e-12)


def test_make_moons_adds_gaussian_noise_of_the_given_scale_to_the_shuffled_points():
    clean, y_clean = moons.make_moons(2000, 0.0, np.random.RandomState(3))
    noisy, y_noisy = moons.make_moons(2000, 0.25, np.random.RandomState(3))
    assert np.array_equal(y_clean, y_noisy)           # the same shuffle comes first
    noise = noisy - clean
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 0.25) < 0.01
    assert not np.array_equal(y_clean[:50], np.zeros(50))   # shuffled, not 50 zeros then 50 ones


def test_the_moons_demo_draws_its_decision_boundary_when_asked(tmp_path):
    picture = tmp_path / "boundary.png"
    run = run_moons("--plot", picture)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"decision boundary: {picture}" in run.stdout
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
