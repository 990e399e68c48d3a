"""The examples in the monitor's docstrings run and print what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "accuguard.monitor.airflow",
    "accuguard.monitor.hooks",
    "accuguard.monitor.reference",
    "accuguard.monitor.window",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
