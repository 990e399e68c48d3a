"""Every YAML config reader names the file, the position and the field the same way."""

import doctest

import pytest

import accuguard.configfile as configfile
from accuguard.configfile import read_yaml_mapping
from accuguard.errors import ConfigError


def test_docstring_examples_pass():
    result = doctest.testmod(configfile)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1", "x.yaml: malformed YAML at line 1, column 6"),
        ("- 1\n- 2\n", "x.yaml: expected a mapping at the top level, got list"),
    ],
)
def test_bad_files_are_named_with_the_problem(tmp_path, text, message):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_yaml_mapping(path)
    assert str(err.value).startswith(str(tmp_path / message))


def test_a_missing_file_names_its_kind(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: plan file not found"):
        read_yaml_mapping(tmp_path / "nope.yaml", "plan")


def test_an_empty_file_is_an_empty_mapping(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("# nothing yet\n")
    assert read_yaml_mapping(path) == {}
