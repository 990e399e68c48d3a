"""The examples in the audit and auth docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = ["accuguard.audit.chain", "accuguard.audit.log", "accuguard.auth.tokens"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
