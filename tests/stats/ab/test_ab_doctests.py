"""Every docstring example in the experiment code runs and prints what it shows."""

import doctest
import importlib

import pytest

MODULES = [
    "accuguard.assign",
    "accuguard.stats.ab.bayes",
    "accuguard.stats.ab.comparison",
    "accuguard.stats.ab.fixed",
    "accuguard.stats.ab.moments",
    "accuguard.stats.ab.multiple",
    "accuguard.stats.ab.power",
    "accuguard.stats.ab.sequential",
    "accuguard.stats.ab.srm",
    "accuguard.stats.ab.summary",
    "accuguard.experiment.specs",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
