#!/usr/bin/env python3
"""Runs every command README.md shows and checks that it exits 0 and prints what is shown.

A command is a line starting with "$ " inside a fenced code block; the lines after it, up to
the next command or the block's end, are its expected standard output (compared exactly, line
by line, trailing spaces ignored; nothing shown means nothing is compared). Commands run with
bash from a scratch directory that links every entry of the repository except docs/ (copied,
so a command writing a picture there does not touch the checkout) and `build` pointing at the
build tree under test. The setup lines at the top of the README (the block without "$ ")
are CI's own commands and are not run here.

A command that takes minutes says so and how the tests shorten it, in a trailing comment
"# tests: append ARGS": the test runs it with ARGS appended (for next_token, later flags win
over a --config file's), so the reader sees exactly what is and is not run.

usage: readme_commands.py README.md BUILD_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def shown_commands(markdown):
    """(line number, command, expected output lines) for each "$ " line in a code block."""
    commands = []
    in_block = False
    current = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        if line.startswith("```"):
            in_block = not in_block
            current = None
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            command = line[2:]
            marker = re.search(r"\s+# tests: append (.*)$", command)
            if marker:
                command = command[:marker.start()] + " " + marker.group(1)
            current = (number, command, [])
            commands.append(current)
        elif current is not None:
            current[2].append(line.rstrip())
    return commands


def scratch_copy(repo, build, into):
    for entry in os.listdir(repo):
        if entry in (".git", "build"):
            continue
        source = os.path.join(repo, entry)
        if entry == "docs":
            shutil.copytree(source, os.path.join(into, entry))
        else:
            os.symlink(source, os.path.join(into, entry))
    os.symlink(os.path.abspath(build), os.path.join(into, "build"))


def main():
    readme, build = sys.argv[1], sys.argv[2]
    repo = os.path.dirname(os.path.abspath(readme))
    with open(readme, encoding="utf-8") as f:
        commands = shown_commands(f.read())
    if not commands:
        print(f"{readme}: no '$ ' commands found; the README lost its examples?", file=sys.stderr)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="readme_commands.") as scratch:
        scratch_copy(repo, build, scratch)
        for number, command, expected in commands:
            result = subprocess.run(["bash", "-c", command], cwd=scratch, capture_output=True, text=True)
            output = [line.rstrip() for line in result.stdout.splitlines()]
            where = f"README.md:{number}: {command}"
            if result.returncode != 0:
                failures += 1
                print(f"FAIL {where}\n  exit status {result.returncode}\n  stderr: {result.stderr[-2000:]}")
            elif expected and output != expected:
                failures += 1
                print(f"FAIL {where}\n  expected:\n    " + "\n    ".join(expected) +
                      "\n  got:\n    " + "\n    ".join(output))
            else:
                print(f"ok   {where}")
    print(f"{len(commands) - failures} of {len(commands)} README commands passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
