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


# The test files that take longest, longest first (as `pytest --durations=0` measured them). The two workers
# (`-n 2 --dist loadfile --no-loadscope-reorder`) take whole files in collection order: started first, these end
# beside the short ones rather than after them, with one worker left idle. Within each file, and among the other
# files, pytest-randomly's order stands (it shuffles before this hook; the sort below is stable).
LONGEST_FIRST = [
    "test_transfer.py", "test_resume.py", "test_optimizer.py", "test_scripts.py", "test_cli.py", "test_sweep_ray.py",
    "test_sweep_run.py", "test_progress.py", "test_failures.py", "test_projects.py", "test_evaluate.py",
    "test_fuzz_readers.py",
    "test_streaming.py",
]  # fmt: skip


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
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
