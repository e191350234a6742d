"""micrograd's test/test_engine.py (karpathy/micrograd), both tests, written with xgrad's 0-d
tensors and operators: checked against PyTorch in float64 as micrograd checks itself, and
against the values micrograd publishes (its README: g 24.7041, a.grad 138.8338,
b.grad 645.5773; test_sanity_check's y -20 and x.grad 46, worked out by hand in the test).
xgrad computes in float32, so the tolerance is relative 1e-6 (float32's 6e-8 rounding over
the ~20 operations of test_more_ops stays below it); micrograd's own 1e-6 is absolute in
float64."""
import pytest

import xgrad

torch = pytest.importorskip("torch", reason="torch not installed (Debian: python3-torch)")


def sanity_check(x):
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def test_sanity_check_gives_micrograds_and_torchs_values():
    x = xgrad.Tensor(-4.0, requires_grad=True)
    with xgrad.Tape():
        y = sanity_check(x)
    y.backward()
    xt = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    yt = sanity_check(xt)
    yt.backward()
    # By hand: z = 3x + 2 = -10, q = relu(z) + z x = 40, h = z^2 = 100, y = h + q + q x = -20;
    # dy/dx = 6z + (3x + z)(1 + x) + q = -60 + 66 + 40 = 46.
    assert y.item() == -20.0 and yt.item() == -20.0
    assert x.grad == pytest.approx(46.0) and xt.grad.item() == pytest.approx(46.0)


def test_more_ops_gives_micrograds_and_torchs_values():
    a = xgrad.Tensor(-4.0, requires_grad=True)
    b = xgrad.Tensor(2.0, requires_grad=True)
    with xgrad.Tape():
        g = more_ops(a, b)
    g.backward()
    at = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    bt = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    gt = more_ops(at, bt)
    gt.backward()
    assert g.item() == pytest.approx(gt.item(), rel=1e-6)
    assert float(a.grad) == pytest.approx(at.grad.item(), rel=1e-6)
    assert float(b.grad) == pytest.approx(bt.grad.item(), rel=1e-6)
    # micrograd's README prints these to 4 decimals.
    assert round(g.item(), 4) == 24.7041
    assert round(float(a.grad), 4) == 138.8338
    assert round(float(b.grad), 4) == 645.5773
