"""Hypothesis-generated files given to every file reader of the ``accuguard`` CLI.

Each reader gets random YAML/JSON structures (keys drawn from the real config models,
values of every type), garbage and truncated text, invalid UTF-8, deep nesting, and
for data: truncated or corrupted Parquet and CSV bytes, all under unicode file names.
The command must either accept the file (exit 0 or 1, its reports complete) or exit 2
with a one-line ``error:`` naming the file; never a traceback, and nothing
half-written in the output directory.

Commands run in-process through :func:`accuguard.cli.main` (what the console script
calls), so an exception that escapes is a traceback a user would see.
"""

from __future__ import annotations

import contextlib
import io
import json
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from accuguard.cli import main
from accuguard.errors import AccuguardError

EXAMPLES = 25
FUZZ = settings(
    phases=[
        Phase.explicit,
        Phase.reuse,
        Phase.generate,
    ],  # no shrinking: the first failure is shown
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _keys(*models: Any) -> list[str]:
    """Every field name of ``models`` and their nested models (from their JSON schemas)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for model in models:
        walk(model.model_json_schema())
    return sorted(names)


def _config_keys() -> list[str]:
    from accuguard.gateway.config import GatewayConfig
    from accuguard.monitor.config import MonitorConfig
    from accuguard.rollout.plan import Plan
    from accuguard.validate.config import ValidationConfig

    return _keys(GatewayConfig, MonitorConfig, Plan, ValidationConfig)


KEYS = _config_keys()
WORDS = ["shadow", "canary", "ks", "psi", "binary", "fraud", "accuracy", "recall", "rollback"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=12)
)
keys = st.sampled_from(KEYS) | st.text(min_size=1, max_size=10)
structures = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
#: file-name stems: unicode letters, digits, space, brackets (rich markup) and dashes
stems = st.text(
    alphabet=st.sampled_from(list(string.ascii_letters + string.digits + " -_[]/é✓ü漢")),
    min_size=1,
    max_size=12,
).map(lambda s: s.replace("/", "∕").strip() or "x")


def _yaml_dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


config_texts = st.one_of(
    structures.map(_yaml_dump),
    structures.map(lambda v: json.dumps(v, allow_nan=True)),
    st.dictionaries(keys, structures, min_size=1, max_size=6).map(_yaml_dump),
    st.tuples(structures.map(_yaml_dump), st.floats(0, 1)).map(
        lambda t: t[0][: int(len(t[0]) * t[1])]  # truncated
    ),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: "".join("  " * i + f"k{i}:\n" for i in range(n // 10 + 1))),
).map(str.encode) | st.binary(max_size=200)


def _frame_bytes(kind: str) -> bytes:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "label": rng.integers(0, 2, size=n),
            "pred": rng.integers(0, 2, size=n),
            "user": [f"u{i}" for i in range(n)],
            "variant": ["control", "treatment"] * (n // 2),
            "conv": rng.integers(0, 2, size=n),
        }
    )
    buffer = io.BytesIO()
    if kind == "parquet":
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_csv(buffer, index=False)
    return buffer.getvalue()


GOOD = {"parquet": _frame_bytes("parquet"), "csv": _frame_bytes("csv")}


@st.composite
def data_files(draw: Callable[..., Any]) -> tuple[str, bytes]:
    """``(suffix, content)``: a good file cut short, with bytes flipped, or garbage."""
    kind = draw(st.sampled_from(["parquet", "csv"]))
    good = GOOD[kind]
    how = draw(st.sampled_from(["truncate", "flip", "garbage", "empty", "text"]))
    if how == "truncate":
        content = good[: draw(st.integers(0, len(good) - 1))]
    elif how == "flip":
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        content = bytes(data)
    elif how == "garbage":
        content = draw(st.binary(max_size=300))
    elif how == "empty":
        content = b""
    else:  # CSV-like text: random cells, ragged rows, odd headers
        rows = draw(st.lists(st.lists(st.text(max_size=6), max_size=5), max_size=6))
        content = "\n".join(",".join(r) for r in rows).encode()
    return kind, content


def run(argv: list[str]) -> tuple[int, str]:
    """Run ``accuguard argv`` in-process: ``(exit code, stdout + stderr)``.

    An exception escaping :func:`main` is what the console script would print as a
    traceback: it fails the test with the exception.
    """
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code
    text = out.getvalue() + err.getvalue()
    assert "Traceback" not in text, text
    return (code if isinstance(code, int) else 1), text


def assert_refused_naming(code: int, text: str, path: Path) -> None:
    assert code == 2, text
    assert "error:" in text, text
    assert path.name in text.replace("\n", ""), text


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("cli-fuzz")
    (base / "ref.csv").write_bytes(GOOD["csv"])
    (base / "cur.parquet").write_bytes(GOOD["parquet"])
    return base


def fresh(work: Path, name: str) -> Path:
    """An empty output folder (one per example)."""
    import uuid

    folder = work / f"{name}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def write(folder: Path, stem: str, suffix: str, content: bytes) -> Path:
    path = folder / f"{stem}.{suffix}"
    path.write_bytes(content)
    return path


def check_outputs(code: int, out: Path, reports: list[str]) -> None:
    """Refused: the output folder is empty. Accepted: every report is complete."""
    if code == 2:
        assert snapshot(out) == {}, f"partial output after a refusal: {sorted(snapshot(out))}"
        return
    for name in reports:
        text = (out / name).read_text(encoding="utf-8")
        if name.endswith(".json"):
            json.loads(text)
        else:
            assert text.rstrip().endswith("</html>")


def expect_config_error(loader: Callable[[Path], Any], path: Path) -> bool:
    """Whether ``loader`` refuses ``path`` (an independent look at the same file)."""
    try:
        loader(path)
    except AccuguardError:
        return True
    return False


@FUZZ
@given(content=config_texts, stem=stems)
def test_validate_config_files(work, content, stem):
    folder = fresh(work, "validate-config")
    cfg = write(folder, stem, "yaml", content)
    out = folder / "out"
    out.mkdir()
    code, text = run(
        [
            "validate",
            "-r",
            str(work / "ref.csv"),
            "-c",
            str(work / "cur.parquet"),
            "--target",
            "label",
            "--prediction",
            "pred",
            "--config",
            str(cfg),
            "-o",
            str(out / "report.json"),
            "--html",
            str(out / "report.html"),
            "-q",
        ]
    )
    from accuguard.validate.config import load_config

    if expect_config_error(load_config, cfg):
        assert_refused_naming(code, text, cfg)
    assert code in (0, 1, 2), text
    check_outputs(code, out, ["report.json", "report.html"])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on 1e305: inf, said
@FUZZ
@given(data=data_files(), stem=stems, side=st.sampled_from(["-r", "-c"]))
def test_validate_data_files(work, data, stem, side):
    kind, content = data
    folder = fresh(work, "validate-data")
    path = write(folder, stem, kind, content)
    out = folder / "out"
    out.mkdir()
    other = str(work / ("cur.parquet" if side == "-r" else "ref.csv"))
    argv = [
        "validate",
        side,
        str(path),
        "-c" if side == "-r" else "-r",
        other,
        "--target",
        "label",
        "--prediction",
        "pred",
        "-o",
        str(out / "report.json"),
        "--html",
        str(out / "report.html"),
        "-q",
    ]
    code, text = run(argv)
    if code == 2:
        assert_refused_naming(code, text, path)
    check_outputs(code, out, ["report.json", "report.html"])


@FUZZ
@given(content=config_texts, stem=stems)
def test_rollout_plan_files(work, content, stem):
    from accuguard.rollout.plan import load_plan

    folder = fresh(work, "plan")
    plan = write(folder, stem, "yaml", content)
    # port 9 (discard) is closed: a plan that passes the local check fails to connect
    code, text = run(
        [
            "rollout",
            "start",
            "fraud",
            "--challenger",
            "models:/fraud/2",
            "--plan",
            str(plan),
            "--url",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ]
    )
    assert code == 2, text
    if expect_config_error(load_plan, plan):
        assert_refused_naming(code, text, plan)


@FUZZ
@given(content=config_texts, stem=stems)
def test_monitor_config_files(work, content, stem):
    from accuguard.monitor.config import load_monitor_config
    from accuguard.store import upgrade

    store = work / "monitor.db"
    if not store.exists():
        upgrade(f"sqlite:///{store}")
    folder = fresh(work, "monitor")
    cfg = write(folder, stem, "yaml", content)
    before = store.read_bytes()
    code, text = run(
        [
            "monitor",
            "check",
            "--config",
            str(cfg),
            "--store-url",
            f"sqlite:///{store}",
            "--dry-run",
            "--json",
        ]
    )
    assert code in (0, 1, 2), text
    if expect_config_error(load_monitor_config, cfg):
        assert_refused_naming(code, text, cfg)
        assert store.read_bytes() == before  # a dry run on a refused file writes nothing


@FUZZ
@given(content=config_texts, stem=stems)
def test_gateway_config_files(work, content, stem, monkeypatch):
    from accuguard.gateway.config import load_gateway_config

    folder = fresh(work, "gateway")
    cfg = write(folder, stem, "yaml", content)
    if not expect_config_error(lambda p: load_gateway_config(p, env={}), cfg):
        return  # a valid config would start the server: the loader's answer is enough
    with monkeypatch.context() as mp:
        for var in ("ACCUGUARD_CONFIG", "ACCUGUARD_STORE_URL", "ACCUGUARD_PRIVACY_SALT"):
            mp.delenv(var, raising=False)
        code, text = run(["serve", "--config", str(cfg), "--port", "9"])
    assert_refused_naming(code, text, cfg)
    assert snapshot(folder) == {cfg.name: content}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on 1e305: inf, said
@FUZZ
@given(data=data_files(), stem=stems)
def test_experiment_event_files(work, data, stem):
    kind, content = data
    folder = fresh(work, "experiment")
    events = write(folder, stem, kind, content)
    out = folder / "out"
    out.mkdir()
    code, text = run(
        [
            "experiment",
            "analyze",
            "-e",
            str(events),
            "--unit",
            "user",
            "--variant",
            "variant",
            "-m",
            "conv",
            "-o",
            str(out / "e.json"),
            "--html",
            str(out / "e.html"),
        ]
    )
    assert code in (0, 1, 2), text
    if code == 2:
        assert_refused_naming(code, text, events)
    check_outputs(code, out, ["e.json", "e.html"])


spec_text = st.text(
    alphabet=st.sampled_from(list("conv/amount<=>+-%.:0123456789,=_ [ ]é")), max_size=16
)


@FUZZ
@given(metric=spec_text, guardrail=spec_text, weights=spec_text, cap=spec_text)
def test_experiment_specs(work, metric, guardrail, weights, cap):
    folder = fresh(work, "specs")
    events = work / "ref.csv"
    argv = [
        "experiment",
        "analyze",
        "-e",
        str(events),
        "--unit",
        "user",
        "--variant",
        "variant",
        "-o",
        str(folder / "e.json"),
    ]
    for flag, value in (("-m", metric), ("-g", guardrail), ("--weights", weights), ("--cap", cap)):
        if value:
            argv += [flag, value]
    code, text = run(argv)
    assert code in (0, 1, 2), text
    if code == 2:
        assert "error" in text.lower(), text
    check_outputs(code, folder, ["e.json"])


def _binary_units() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "user": pa.array([b"\xff\xfe", b"u2"], pa.binary()),  # not UTF-8
            "variant": ["control", "treatment"],
            "conv": [0, 1],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("command", "suffix", "content", "says"),
    [
        ("validate", "csv", b"a,a,label,pred\n1,2,1,0\n3,4,0,0\n", "columns named twice: ['a']"),
        ("validate", "csv", b",,label,pred\n1,2,1,0\n3,4,0,0\n", "columns named twice: ['']"),
        ("experiment", "parquet", _binary_units(), "column 'user'"),
    ],
)
def test_inputs_the_fuzzing_found(work, command, suffix, content, says):
    folder = fresh(work, "found")
    path = write(folder, "données", suffix, content)
    if command == "validate":
        argv = ["validate", "-r", str(path), "-c", str(path), "--target", "label",
                "--prediction", "pred", "-q"]  # fmt: skip
    else:
        argv = ["experiment", "analyze", "-e", str(path), "--unit", "user",
                "--variant", "variant", "-m", "conv"]  # fmt: skip
    code, text = run(argv)
    assert_refused_naming(code, text, path)
    assert says in text, text
