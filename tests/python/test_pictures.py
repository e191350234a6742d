"""Pictures of a tape (python/xgrad/graph.py): DOT text with each tensor's value and signed
gradient, a row-sparse gradient by its rows, and SVG through Graphviz's dot for Jupyter."""
import shutil

import numpy as np
import pytest

import xgrad


def small_graph():
    a = xgrad.Tensor(2.0, requires_grad=True, name="a")
    b = xgrad.Tensor(-3.0, requires_grad=True, name="b")
    with xgrad.Tape() as tape:
        loss = a * b
    loss.backward()
    return tape


def test_the_dot_text_labels_each_tensor_with_its_value_and_signed_gradient():
    dot = xgrad.to_dot(small_graph())
    assert dot.startswith("digraph xgrad {")
    assert '"a\\ndata 2.0000\\ngrad -3.0000"' in dot   # d(ab)/da = b
    assert '"b\\ndata -3.0000\\ngrad 2.0000"' in dot    # d(ab)/db = a
    assert '"mul #0\\ndata -6.0000\\ngrad 1.0000"' in dot
    assert 'label="mul"' in dot


def test_a_row_sparse_gradient_is_labelled_by_its_rows_of_the_table():
    table = xgrad.Tensor.parameter(np.zeros((1000, 2)), "embedding")
    with xgrad.Tape() as tape:
        loss = xgrad.embedding_lookup(table, [92, 3, 14, 3]).sum()
    loss.backward()
    assert "grad rows 3, 14, 92 of 1000" in xgrad.to_dot(tape)


def test_write_dot_writes_the_same_text_to_a_file(tmp_path):
    tape = small_graph()
    path = tmp_path / "graph.dot"
    xgrad.write_dot(tape, path)
    assert path.read_text() == xgrad.to_dot(tape)


def test_a_tape_renders_as_svg_for_jupyter():
    assert shutil.which("dot"), "Graphviz's dot is installed by scripts/setup.sh"
    svg = small_graph()._repr_svg_()
    assert "<svg" in svg and "grad &#45;3.0000" in svg


def test_without_graphviz_the_picture_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        xgrad.to_svg(small_graph())
    assert small_graph()._repr_svg_() is None
