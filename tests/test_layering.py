"""The statistics core imports nothing from the rest of accuguard (DESIGN.md)."""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "accuguard"
ALLOWED = {"stats": {"accuguard.stats"}, "profile": {"accuguard.stats", "accuguard.profile"}}
FORBIDDEN_THIRD_PARTY = {"pandas", "sqlalchemy", "fastapi", "starlette", "mlflow", "typer", "rich"}


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_core_package_imports_only_itself_and_numerics(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files, f"no modules in {package}"
    for path in files:
        for name in _imports(path):
            root = name.split(".")[0]
            if root == "accuguard":
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED[package]), (
                    f"{path.relative_to(SRC)} imports {name}"
                )
            assert root not in FORBIDDEN_THIRD_PARTY, f"{path.relative_to(SRC)} imports {name}"
