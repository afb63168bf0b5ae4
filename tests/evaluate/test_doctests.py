"""The examples in the evaluate modules' docstrings run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bootstrap", "survival", "binary", "calibration", "horizon", "compare", "stats", "fairness"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name == "stats":
        pytest.importorskip("tableone")
    module = importlib.import_module(f"oncoplan.evaluate.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
