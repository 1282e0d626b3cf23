"""What breaking things by hand turned up: names that are not UTF-8, and the lines users read for files that are
not what they seem. Each is one coded line naming the file (and line or record), exit 1, nothing left behind."""

import subprocess
import sys
from pathlib import Path

import pytest

from recipe_cli.errors import StageError
from recipe_cli.output.failures import write_log

DATA = Path(__file__).parent / "data"


def _recipe_train(cwd: Path, *args: str | bytes) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recipe_cli", "train", *args], cwd=cwd, capture_output=True,
                          check=False)  # fmt: skip


@pytest.mark.parametrize("bad", ["data", "output"])
def test_a_name_that_is_not_utf8_is_one_line_and_leaves_nothing(tmp_path, bad):
    """A data file or -o name holding the byte 0xff (valid on Linux, not UTF-8): one line naming it, escaped, and no
    traceback (the error handler itself once failed on it), no folder created."""
    data = b"bad\xff.conll" if bad == "data" else b"train.conll"
    (tmp_path / data.decode("utf8", errors="surrogateescape")).write_bytes((DATA / "wnut17-dev.conll").read_bytes())
    out = b"out\xff" if bad == "output" else b"out"
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _recipe_train(tmp_path, "ner", data, "-o", out, "--training.max_epochs", "1", "--no-plot")
    shown = (data if bad == "data" else out).decode("utf8", errors="backslashreplace")
    assert (result.returncode, result.stdout, result.stderr.decode()) == (
        1,
        b"",
        f"error: [E009] The name '{shown}' is not valid UTF-8: rename it (spaCy's config and recipe-train's "
        "records hold paths as UTF-8 text).\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_error_log_is_written_whatever_the_error_holds(tmp_path):
    """A lone surrogate (an undecodable byte of a name) in the error: written escaped, not a second exception."""
    error = StageError("Reading the data", ValueError("bad\udcff.conll"))
    assert write_log(error, tmp_path) == tmp_path / "error.log"
    lines = (tmp_path / "error.log").read_text(encoding="utf8").splitlines()
    assert lines[2:4] == ["error: [E070] Reading the data failed: ValueError: bad\\udcff.conll", ""]
