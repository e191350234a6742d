"""Pictures of a tape, as micrograd's draw_dot draws its graph: one box per tensor with its
value and gradient (signs shown), one ellipse per recorded op. DOT text for Graphviz, and SVG
through the `dot` program for Jupyter (Tape._repr_svg_). The C++ picture (core/graph_dot.hpp)
is for models with thousands of records; this one is for teaching on small graphs."""
import shutil
import subprocess

import numpy as np

MAX_LISTED = 4      # elements of a value or gradient written out in full
ROWS_LISTED = 6     # rows of a row-sparse gradient named


def _number(v):
    return f"{float(v):.4f}"


def _values(array):
    flat = np.asarray(array, dtype=np.float64).reshape(-1)
    if flat.size == 1:
        return _number(flat[0])
    if flat.size <= MAX_LISTED:
        return "[" + ", ".join(_number(v) for v in flat) + "]"
    return f"mean {_number(flat.mean())}, max |x| {_number(np.abs(flat).max())}"


def gradient_label(tensor):
    """'grad -1.5000', 'grad [0.5000, -0.2500]', 'grad rows 3, 14, 92 of 1000', 'grad none'."""
    kind = tensor.grad_kind
    if kind == "none":
        return "grad none" if tensor.requires_grad else ""
    if kind == "row_sparse":
        rows = sorted(int(r) for r in tensor.row_sparse_grad.rows)
        listed = ", ".join(str(r) for r in rows[:ROWS_LISTED])
        more = f", ... ({len(rows)} rows)" if len(rows) > ROWS_LISTED else ""
        return f"grad rows {listed}{more} of {tensor.shape[0]}"
    return "grad " + _values(tensor.grad)


def _quoted(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _tensor_label(tensor, fallback):
    lines = [tensor.name or fallback]
    if tensor.ndim:
        lines[0] += " " + str(tuple(tensor.shape))
    lines.append("data " + _values(tensor.value))
    grad = gradient_label(tensor)
    if grad:
        lines.append(grad)
    return "\n".join(lines)


def to_dot(tape, title=""):
    """The tape as DOT text: `digraph xgrad { ... }`, tensors as boxes (inputs that need no
    gradient grey), ops as ellipses, edges in the direction of the forward pass."""
    out = ["digraph xgrad {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    if title:
        out.append(f"  labelloc=t; label={_quoted(title)};")
    drawn = set()

    def tensor_node(t, fallback):
        key = f"t{t.node_id}"
        if key not in drawn:
            drawn.add(key)
            style = "" if t.requires_grad else ', style=filled, fillcolor="#eeeeee"'
            out.append(f"  {key} [shape=box, label={_quoted(_tensor_label(t, fallback))}{style}];")
        return key

    for i, (op, inputs, output, _detail) in enumerate(tape.records()):
        op_key = f"op{i}"
        out.append(f"  {op_key} [shape=ellipse, label={_quoted(op)}];")
        for k, x in enumerate(inputs):
            out.append(f"  {tensor_node(x, f'input {k} of {op}')} -> {op_key};")
        out.append(f"  {op_key} -> {tensor_node(output, f'{op} #{i}')};")
    out.append("}")
    return "\n".join(out) + "\n"


def write_dot(tape, path, title=""):
    """Writes to_dot(tape, title) to path (render it with `dot -Tsvg path -o picture.svg`)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_dot(tape, title))


def to_svg(tape, title=""):
    """The picture as SVG text, through Graphviz's `dot` program; RuntimeError naming the
    package when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("drawing a tape needs Graphviz's `dot` program (Debian: apt-get install graphviz)")
    done = subprocess.run([dot, "-Tsvg"], input=to_dot(tape, title).encode(), capture_output=True, check=True)
    return done.stdout.decode()


def repr_svg(tape):
    """Jupyter's hook: the SVG picture, or None (Jupyter then shows the text) without Graphviz."""
    try:
        return to_svg(tape)
    except RuntimeError:
        return None
