"""docs/experiments.md stays true: its examples run and print what the page shows."""

import doctest
import pathlib
import re
import shlex

import pytest

from accuguard.assign import bucket
from accuguard.cli import main

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "experiments.md"
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def test_python_examples_in_the_page_pass():
    result = doctest.testfile(str(DOC), module_relative=False)
    assert result.attempted >= 10 and result.failed == 0


def test_published_vectors_table_matches_bucket():
    rows = re.findall(r"^\| (.+?) \| (.+?) \| (\d+) \|$", DOC.read_text(), re.M)
    vectors = [(s, u, int(b)) for s, u, b in rows if b.isdigit()]
    assert len(vectors) == 9
    for salt, unit, expected in vectors:

        def clean(cell):
            return "" if cell == "(empty string)" else cell.strip("`")

        assert bucket(clean(salt), clean(unit)) == expected


def test_worked_example_prints_the_numbers_shown(tmp_path, monkeypatch, capsys):
    blocks = BLOCK.findall(DOC.read_text())
    script = next(code for lang, code in blocks if lang == "python" and "write_table" in code)
    monkeypatch.chdir(tmp_path)
    exec(compile(script, "docs/experiments.md", "exec"), {})
    checked = 0
    for i, (lang, code) in enumerate(blocks):
        if lang != "bash" or not code.startswith("accuguard experiment analyze"):
            continue
        argv = shlex.split(code.replace("\\\n", " "))[1:]
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        shown = blocks[i + 1][1]
        table = [line.rstrip() for line in out.splitlines()]
        for line in shown.strip().splitlines():
            if line.startswith(("units:", "metric")):
                continue
            assert line.rstrip() in table, f"docs line not printed:\n{line}\n--- got ---\n{out}"
            checked += 1
    assert checked >= 6
