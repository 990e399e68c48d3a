"""The examples in the store's and privacy's docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "accuguard.store.engine",
    "accuguard.store.migrate",
    "accuguard.store.repository",
    "accuguard.store.spool",
    "accuguard.privacy",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
