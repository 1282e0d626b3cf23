import os
from pathlib import Path

import pytest
import spacy

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent

# Subprocesses (the kill-point runner, the console scripts, the benchmark smoke runs, spaCy's own CLI loading our
# registered functions) import recipe_cli from this working tree, as the tests themselves do, not from whatever
# copy is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)


def pytest_addoption(parser):
    parser.addoption("--skip-slow", action="store_true", help="skip end-to-end training runs")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--skip-slow"):
        skip = pytest.mark.skip(reason="--skip-slow given")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def nlp():
    return spacy.blank("en")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Tests see no RECIPE_* or SPACY_CONFIG_OVERRIDES from the shell that runs them."""
    for var in list(os.environ):
        if var.startswith("RECIPE_") or var == "SPACY_CONFIG_OVERRIDES":
            monkeypatch.delenv(var)
