import pytest

from accuguard.errors import ConfigError
from accuguard.validate.config import load_config


def _write(tmp_path, text):
    path = tmp_path / "gates.yaml"
    path.write_text(text)
    return path


def test_defaults_when_no_config_is_given():
    cfg = load_config(None)
    assert cfg.drift.numeric == "ks"
    assert cfg.drift.categorical == "chi_square"
    assert cfg.gates == []


def test_gates_accept_plain_strings_and_named_mappings(tmp_path):
    cfg = load_config(
        _write(tmp_path, "gates:\n  - f1 >= 0.8\n  - {name: floor, check: 'recall >= 0.7'}\n")
    )
    assert [g.check for g in cfg.gates] == ["f1 >= 0.8", "recall >= 0.7"]
    assert cfg.gates[1].name == "floor"


def test_per_column_method_and_bounds(tmp_path):
    cfg = load_config(_write(tmp_path, "columns:\n  amount: {drift: psi, bounds: [0, null]}\n"))
    assert cfg.columns["amount"].drift == "psi"
    assert cfg.columns["amount"].bounds == (0, None)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("gates: [f1 >= 0.8\n", r"gates\.yaml: malformed YAML at line \d+"),
        ("- just\n- a list\n", "expected a mapping at the top level"),
        (
            "drift: {alpha: 5}\n",
            r"gates\.yaml: drift\.alpha: Input should be less than 1 \(got 5\)",
        ),
        ("columns: {amount: {drift: median}}\n", r"columns\.amount\.drift: Input should be"),
        ("gatez: []\n", r"gatez: unknown field"),
        ("gates: ['  ']\n", r"gates\.0\.check: Value error, a gate needs an expression"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text))


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
