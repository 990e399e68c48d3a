"""The CLI: exit codes 0 / 1 / 2, one-line errors naming the input, nothing half-written."""

import json
import re
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from accuguard.cli import main


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture
def pair(parquet_pair):
    return [str(p) for p in parquet_pair]


def test_passing_gates_exit_0_and_write_both_reports(pair, tmp_path, capsys):
    cfg = tmp_path / "g.yaml"
    cfg.write_text("gates: ['roc_auc >= 0.6', 'drift.share <= 0.9']\n")
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    code, _, err = run(
        [
            "validate",
            "-r",
            pair[0],
            "-c",
            pair[1],
            "--target",
            "label",
            "--prediction",
            "pred",
            "--score",
            "score",
            "--config",
            str(cfg),
            "--output",
            str(out),
            "--html",
            str(html),
        ],
        capsys,
    )
    assert code == 0, err
    assert json.loads(out.read_text())["passed"] is True
    page = html.read_text()
    assert "PASSED" in page
    # self-contained: nothing is fetched (xmlns identifiers are not fetched)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//|@import|<link|<script", page)
    assert "<svg" in page  # the drifted columns' distributions are inline


def test_failing_gate_exits_1_and_still_writes_the_report(pair, tmp_path, capsys):
    cfg = tmp_path / "g.yaml"
    cfg.write_text("gates: ['drift.share <= 0.0']\n")
    out = tmp_path / "r.json"
    code, _, err = run(
        ["validate", "-r", pair[0], "-c", pair[1], "--config", str(cfg), "--output", str(out)],
        capsys,
    )
    assert code == 1
    assert json.loads(out.read_text())["passed"] is False
    assert "FAIL" in err


def _bad(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--target", "nope"], r"column 'nope' \(given by --target\) not found; columns are: x0"),
        (["--target", "label", "--score", "c0"], r"column 'c0' must be numeric, found"),
        (["--target", "label", "--prediction", "x0"], r"column 'x0' has predictions outside"),
        (["--config", "{bad_yaml}"], r"bad\.yaml: malformed YAML at line \d+"),
        (["--config", "{unknown_metric}"], r"unknown value 'f2' in this report; did you mean f1"),
        (["--config", "{bad_field}"], r"field\.yaml: drift\.alpha: Input should be less than 1"),
    ],
)
def test_bad_input_exits_2_with_a_message_naming_it_and_writes_nothing(
    pair, tmp_path, capsys, extra, match
):
    files = {
        "{bad_yaml}": _bad(tmp_path, "bad.yaml", "gates: [f1 >=\n"),
        "{unknown_metric}": _bad(tmp_path, "um.yaml", "gates: ['f2 >= 0.5']\n"),
        "{bad_field}": _bad(tmp_path, "field.yaml", "drift: {alpha: 3}\n"),
    }
    extra = [files.get(a, a) for a in extra]
    if "--config" in extra and "--target" not in extra:
        extra += ["--target", "label", "--prediction", "pred"]
    out = tmp_path / "r.json"
    code, _, err = run(
        ["validate", "-r", pair[0], "-c", pair[1], "--output", str(out), *extra], capsys
    )
    assert code == 2
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert re.search(match, err), err
    assert not out.exists()


def test_missing_and_empty_files_exit_2(tmp_path, capsys, pair):
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    code, _, err = run(["validate", "-r", str(tmp_path / "gone.parquet"), "-c", pair[1]], capsys)
    assert code == 2 and "gone.parquet: reference file not found" in err
    code, _, err = run(["validate", "-r", pair[0], "-c", str(empty)], capsys)
    assert code == 2 and "empty.parquet: current file is empty" in err


def test_zero_row_parquet_exits_2(tmp_path, capsys, pair):
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"x0": pa.array([], pa.float64())}), path)
    code, _, err = run(["validate", "-r", pair[0], "-c", str(path)], capsys)
    assert code == 2 and "zero.parquet: current file has no rows" in err


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_exits_2_naming_the_variable(pair, tmp_path, capsys, monkeypatch, value):
    monkeypatch.setenv("ACCUGUARD_THREADS", value)
    out = tmp_path / "r.json"
    code, _, err = run(["validate", "-r", pair[0], "-c", pair[1], "--output", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1, err
    assert f"ACCUGUARD_THREADS: expected a whole number >= 1; got '{value}'" in err
    assert not out.exists()


def test_usage_error_exits_2(capsys):
    code, _, err = run(["validate", "--reference"], capsys)
    assert code == 2
    assert "Traceback" not in err


def test_console_script_runs_in_a_fresh_process(pair, tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "accuguard.cli",
            "validate",
            "-r",
            pair[0],
            "-c",
            pair[1],
            "--quiet",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["schema_version"] == "accuguard.validation/v1"
