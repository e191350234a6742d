#!/usr/bin/python3
"""micrograd's demo (demo.ipynb) with xgrad: a 2-16-16-1 relu MLP separates the two moons,
trained with the max-margin (hinge) loss plus L2 regularisation (alpha 1e-4) by SGD with
the learning rate 1.0 - 0.9 * k / 100 at step k, for 100 steps, on all 100 points at once.

The data and the initial weights are micrograd's own: make_moons(n_samples=100, noise=0.1)
after np.random.seed(1337), and weights uniform in [-1, 1] from Python's random.seed(1337),
drawn neuron by neuron as micrograd's MLP draws them (biases 0). make_moons is written below
in NumPy, without scikit-learn: the same formula as sklearn.datasets.make_moons and the same
draws from the same RandomState. micrograd computes in float64, one scalar at a time; xgrad
in float32, one matrix at a time, with the operators inside `with xgrad.Tape()`; the losses
printed agree with demo.ipynb's to about 1e-5 relative at every step, and so do the accuracies.

Usage: PYTHONPATH=build/python python3 examples/python/moons.py [--steps N] [--plot FILE.png]
--plot draws the decision boundary over the points, as the demo's last cell (matplotlib).
Exits 1 unless every training point is classified right after training (micrograd's 100%)."""
import argparse
import random
import sys

import numpy as np

import xgrad

SIZES = (2, 16, 16, 1)
ALPHA = 1e-4     # L2 regularisation strength
STEPS = 100      # micrograd's loop; its learning rate decays over exactly these steps


def make_moons(n_samples, noise, random_state):
    """sklearn.datasets.make_moons(n_samples, shuffle=True, noise=noise, random_state) in
    NumPy: two interleaving half circles, shuffled, then Gaussian noise. random_state is a
    np.random.RandomState (the legacy generator scikit-learn draws from). Returns X (n, 2)
    float64 and y (n,) in {0, 1}: 0 for the upper moon, 1 for the lower."""
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    X = np.vstack([np.append(np.cos(t_out), 1 - np.cos(t_in)),
                   np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5)]).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    order = np.arange(n_samples)
    random_state.shuffle(order)      # sklearn.utils.shuffle draws exactly this permutation
    X, y = X[order], y[order]
    X += random_state.normal(scale=noise, size=X.shape)
    return X, y


class MLP:
    """relu(x @ w + b) per layer, the last one linear: micrograd's MLP(2, [16, 16, 1]), one
    weight matrix per layer instead of one Value per weight."""

    def __init__(self, sizes, rng):
        self.layers = []
        for k, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            # micrograd draws n_in weights for each of the n_out neurons in turn: row j of
            # the draws is neuron j, column j of w.
            draws = np.array([[rng.uniform(-1, 1) for _ in range(n_in)] for _ in range(n_out)])
            w = xgrad.Tensor.parameter(draws.T, f"layer{k}.w")
            b = xgrad.Tensor.parameter(np.zeros(n_out), f"layer{k}.b")
            self.layers.append((w, b))

    def __call__(self, x):
        for k, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if k < len(self.layers) - 1:
                x = x.relu()
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer]


def loss_and_accuracy(model, X, y):
    """micrograd's loss(): the mean hinge loss max(0, 1 - y * score) plus alpha times the sum
    of every parameter squared, and the fraction of points on the right side of 0. y is +-1."""
    scores = model(X)                                        # (N, 1)
    data_loss = (1 - y * scores).relu().mean()               # the "max-margin" loss
    reg_loss = ALPHA * sum((p * p).sum() for p in model.parameters())
    accuracy = float(((y.value > 0) == (scores.value > 0)).mean())
    return data_loss + reg_loss, accuracy


def train_step(model, optimizer, X, y, lr):
    """One step of micrograd's loop: forward on a new tape, backward, SGD at rate lr."""
    with xgrad.Tape():
        loss, accuracy = loss_and_accuracy(model, X, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.lr = lr
    optimizer.step()
    return loss.item(), accuracy


def data_and_model():
    """micrograd's demo setup: the moons, y as -1 or +1 (a column), and the initial MLP."""
    X, y = make_moons(100, 0.1, np.random.RandomState(1337))
    model = MLP(SIZES, random.Random(1337))
    return xgrad.Tensor(X), xgrad.Tensor((y * 2 - 1).reshape(-1, 1)), model


def plot_decision_boundary(model, X, y, path):
    """The demo's last cell: the model's sign on a grid (spacing 0.25) under the points."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0, x1 = np.meshgrid(np.arange(X[:, 0].min() - 1, X[:, 0].max() + 1, 0.25),
                         np.arange(X[:, 1].min() - 1, X[:, 1].max() + 1, 0.25))
    with xgrad.Tape(inference=True):
        scores = model(xgrad.Tensor(np.c_[x0.ravel(), x1.ravel()]))
    plt.figure(figsize=(5, 5))
    plt.contourf(x0, x1, (scores.value > 0).reshape(x0.shape), cmap=plt.cm.Spectral, alpha=0.8)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral)
    plt.xlim(x0.min(), x0.max())
    plt.ylim(x1.min(), x1.max())
    plt.savefig(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"training steps (default {STEPS})")
    parser.add_argument("--plot", metavar="FILE", help="also draw the decision boundary into FILE (PNG)")
    args = parser.parse_args()
    steps = args.steps

    X, y, model = data_and_model()
    optimizer = xgrad.optim.SGD(model.parameters(), lr=1.0)
    schedule = xgrad.optim.LinearDecaySchedule(1.0, 0.1, STEPS)   # 1.0 - 0.9 * k / 100
    print(f"{X.shape[0]} points, MLP {'-'.join(map(str, SIZES))}, "
          f"{sum(p.size for p in model.parameters())} parameters")
    for k in range(steps):
        loss, accuracy = train_step(model, optimizer, X, y, schedule(k))
        if k % 10 == 0 or k == steps - 1:
            print(f"step {k} loss {loss:.8f}, accuracy {accuracy * 100:.1f}%")

    with xgrad.Tape(inference=True):
        loss, accuracy = loss_and_accuracy(model, X, y)
    ok = accuracy == 1.0
    print(f"after {steps} steps: loss {loss.item():.8f}, accuracy {accuracy * 100:.1f}% "
          f"on the training points: {'ok' if ok else 'FAILED (micrograd reaches 100%)'}")
    if args.plot:
        plot_decision_boundary(model, X.value, y.value.ravel(), args.plot)
        print(f"decision boundary: {args.plot}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
