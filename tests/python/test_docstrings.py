"""help(xgrad.X) says what the C++ header says: every public name has a docstring, and each
op's is built from the comment above its declaration in core/ops.hpp (python/docgen.py)."""
import re
from pathlib import Path

import pytest

import xgrad

OPS_HPP = Path(__file__).resolve().parents[2] / "core" / "ops.hpp"


def header_ops():
    """{op name: the first line of the comment block above its first declaration}, read here
    independently of docgen.py."""
    lines = OPS_HPP.read_text().splitlines()
    found = {}
    for i, line in enumerate(lines):
        match = re.match(r"(?:Tensor|std::vector<Tensor>) ([a-z_0-9]+)\(Tape& tape", line)
        if not match or match.group(1) in found:
            continue
        j = i
        while j > 0 and lines[j - 1].startswith("//") and not lines[j - 1].startswith("// ----"):
            j -= 1
        if j < i:
            found[match.group(1)] = lines[j][3:]
    return found


def public_names():
    return sorted(n for n in dir(xgrad) if not n.startswith("_"))


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_has_a_docstring(name):
    doc = getattr(xgrad, name).__doc__
    assert doc and doc.strip(), f"xgrad.{name} has no docstring"


def test_the_header_declares_the_ops_this_test_expects():
    assert len(header_ops()) >= 40 and {"add", "matmul", "softmax_cross_entropy", "take"} <= set(header_ops())


@pytest.mark.parametrize("name", sorted(header_ops()))
def test_every_op_of_the_header_is_a_module_function_documented_from_the_header(name):
    assert hasattr(xgrad, name), f"core/ops.hpp declares {name}, which xgrad lacks"
    doc = getattr(xgrad, name).__doc__
    assert f"From core/ops.hpp (`{name}`)" in doc
    assert header_ops()[name] in doc


@pytest.mark.parametrize("name", ["relu", "tanh", "exp", "log", "sigmoid", "sqrt", "abs", "sum", "mean", "max",
                                  "reshape", "transpose", "softmax", "log_softmax"])
def test_every_tensor_method_named_after_an_op_carries_the_ops_header_text(name):
    doc = getattr(xgrad.Tensor, name).__doc__
    assert header_ops()[name] in doc


@pytest.mark.parametrize("cls", ["Tensor", "Tape"])
def test_every_public_attribute_of_tensor_and_tape_has_a_docstring(cls):
    owner = getattr(xgrad, cls)
    missing = [n for n in dir(owner) if not n.startswith("_") and not (getattr(owner, n).__doc__ or "").strip()]
    assert missing == []
