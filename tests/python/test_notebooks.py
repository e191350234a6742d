"""The notebooks in notebooks/ are stored without outputs (so diffs show only what a person
wrote, and CI's run is the only place outputs come from), and scripts/run_notebooks.py, which
runs them in .ci/run, fails on a cell error naming the notebook and the cell."""
import json
import os
import subprocess
import sys
from pathlib import Path

import xgrad

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / "scripts" / "run_notebooks.py"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) >= 2, NOTEBOOKS


def test_every_notebook_is_stored_without_outputs():
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        for index, cell in enumerate(notebook["cells"]):
            if cell["cell_type"] == "code":
                where = f"{path.name} cell {index + 1}: run scripts/run_notebooks.py --clear-outputs {path.name}"
                assert cell["outputs"] == [], where
                assert cell["execution_count"] is None, where


def module_dir() -> Path:
    here = Path(xgrad.__file__).resolve().parent
    return here.parent if here.name == "xgrad" else here  # a package xgrad/ or a bare module


def write_notebook(path, *sources):
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
             for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def run_runner(*arguments):
    # In the sanitizer build this process runs with the sanitizers' runtimes preloaded
    # (tests/CMakeLists.txt); the runner and its kernel are plain python3 and load nothing
    # instrumented (the kernel test below only locates xgrad), so they run without them.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "PYTHONMALLOC", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    return subprocess.run([sys.executable, str(RUNNER), "--python-path", str(module_dir()), *map(str, arguments)],
                          capture_output=True, text=True, env=env, timeout=300)


def test_the_runner_names_the_notebook_and_the_cell_that_failed_and_runs_the_rest(tmp_path):
    write_notebook(tmp_path / "a_broken.ipynb", "x = 1", "import math\nmath.sqrt(-x)", "print('never')")
    write_notebook(tmp_path / "b_fine.ipynb", "import os\nprint(os.getcwd())")
    run = run_runner(tmp_path / "a_broken.ipynb", tmp_path / "b_fine.ipynb")
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"FAILED {tmp_path / 'a_broken.ipynb'}: cell 2 of 3 ('import math'): ValueError: math domain error" \
        in run.stderr, run.stderr
    assert f"ok {tmp_path / 'b_fine.ipynb'}: " in run.stdout and " s\n" in run.stdout, run.stdout
    assert "1 of 2 notebooks failed" in run.stderr


def test_the_runners_kernel_works_in_the_repository_with_this_xgrad_and_writes_nothing_back(tmp_path):
    path = tmp_path / "where.ipynb"
    write_notebook(path, "import importlib.util, os\n"
                   f"assert os.getcwd() == {str(REPO)!r}, os.getcwd()\n"
                   "found = importlib.util.find_spec('xgrad').origin\n"
                   f"assert found == {xgrad.__file__!r}, found")
    before = path.read_text()
    run = run_runner(path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert path.read_text() == before
