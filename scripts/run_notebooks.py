#!/usr/bin/python3
"""Runs the teaching notebooks headless, as CI does: each notebook top to bottom in a fresh
python3 kernel (nbclient + ipykernel, Debian's python3-nbclient and python3-ipykernel),
working directory the repository, xgrad from a build tree. A cell that raises fails the run,
naming the notebook and the cell; each notebook's run time is printed. Nothing is written
back: the notebooks stay stored without outputs (tests/python/test_notebooks.py checks that).

  /usr/bin/python3 scripts/run_notebooks.py --python-path build/python [notebook.ipynb ...]
  /usr/bin/python3 scripts/run_notebooks.py --clear-outputs notebooks/*.ipynb   (before a commit)

Exit status: 0 when every notebook ran, 1 when one failed, 2 for bad arguments."""
import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def first_line(cell) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    text = lines[0].strip() if lines else "(empty)"
    return text if len(text) <= 70 else text[:67] + "..."


def failed_cell(nb):
    """The first cell with an error output (nbclient stores outputs as it runs), or None."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, cell, output
    return None


def run(path: Path, timeout: int) -> bool:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}})
    start = time.monotonic()
    try:
        client.execute()
    except Exception as error:  # CellExecutionError, CellTimeoutError, DeadKernelError, ...
        seconds = time.monotonic() - start
        found = failed_cell(nb)
        if found:
            index, cell, output = found
            where = f"cell {index + 1} of {len(nb.cells)} ({first_line(cell)!r})"
            what = f"{output.get('ename')}: {output.get('evalue')}"
        else:
            # A timeout or a dead kernel leaves no error output: the running cell is the
            # last code cell that has an execution count.
            ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
            index = ran[-1] if ran else 0
            where = f"cell {index + 1} of {len(nb.cells)} ({first_line(nb.cells[index])!r})"
            kind = "timed out" if isinstance(error, CellTimeoutError) else \
                "killed the kernel" if isinstance(error, DeadKernelError) else "failed"
            what = f"{kind}: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        print(f"FAILED {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {where}: {what} "
              f"(after {seconds:.1f} s)", file=sys.stderr)
        if found:
            print("".join(line if line.endswith("\n") else line + "\n" for line in
                          strip_ansi(found[2].get("traceback", []))), file=sys.stderr)
        return False
    seconds = time.monotonic() - start
    print(f"ok {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {seconds:.1f} s")
    return True


def strip_ansi(lines):
    import re
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]


def clear_outputs(path: Path) -> None:
    import nbformat
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)
    print(f"cleared {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="the notebooks to run (default: every notebooks/*.ipynb)")
    parser.add_argument("--python-path", type=Path, default=REPO / "build" / "python",
                        help="the directory holding the built xgrad module (default: build/python)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one cell may take (default 600)")
    parser.add_argument("--clear-outputs", action="store_true",
                        help="remove outputs and execution counts from the notebooks instead of running them")
    args = parser.parse_args()
    notebooks = [p.resolve() for p in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    if not notebooks:
        parser.error("no notebooks given and none in notebooks/")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        parser.error("no such notebook: " + ", ".join(missing))
    if args.clear_outputs:
        for path in notebooks:
            clear_outputs(path)
        return 0

    python_path = args.python_path.resolve()
    if not any(python_path.glob("xgrad*.so")) and not (python_path / "xgrad").is_dir():
        parser.error(f"--python-path {python_path} holds no xgrad module (build the target xgrad_python)")
    # The kernel is a child process: it inherits this environment.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # ipykernel's debugger warns on every start that Python 3.11 freezes modules: noise here.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.chdir(REPO)
    failures = [p for p in notebooks if not run(p, args.timeout)]
    if failures:
        print(f"{len(failures)} of {len(notebooks)} notebooks failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
