"""Resume and crash safety: interrupted runs resume to exactly the rows of an uninterrupted run."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from recipe_cli.checkpoint import epoch_folders
from recipe_cli.cli.train import app as train_app
from recipe_cli.metrics import read_rows
from recipe_cli.state import STATE_DIR

runner = CliRunner()
RUNNER = Path(__file__).parent / "kill_runner.py"
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")
EPOCHS = 3
LIMIT = 80


def _args(data_dir, out, *extra):
    return ["ner", str(data_dir / "wnut17-train.conll"), "--dev", str(data_dir / "wnut17-dev.conll"), "-o", str(out),
            "--corpora.train.limit", str(LIMIT), "--seed", "1", "-q", *map(str, extra)]  # fmt: skip


def _train(args):
    return runner.invoke(train_app, [str(a) for a in args])


def _untimed(rows):
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in TIMING}
        row["scores"] = {k: v for k, v in row["scores"].items() if k != "speed"}
        out.append(row)
    return out


def _assert_same_rows(resumed, reference):
    assert len(resumed) == len(reference)
    for got, want in zip(resumed, reference, strict=True):
        assert got["score"] == pytest.approx(want["score"], abs=1e-6)
        assert got == want


def _check_consistent(out: Path) -> None:
    """Every epoch named in metrics.jsonl has a folder that loads; every folder has a row but the newest."""
    rows = read_rows(out / "metrics.jsonl") if (out / "metrics.jsonl").exists() else []
    folders = epoch_folders(out)
    listed = [row["epoch"] for row in rows]
    assert listed == list(range(1, len(rows) + 1))
    assert set(listed) <= set(folders)
    assert set(folders) - set(listed) <= ({max(folders)} if folders else set())
    for epoch in listed:
        spacy.load(folders[epoch])
    for name in ("model-last", "model-best"):
        if (out / name).exists():
            spacy.load(out / name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every resumed run must reproduce."""
    data_dir = Path(__file__).parent / "data"
    out = tmp_path_factory.mktemp("reference") / "out"
    result = _train(_args(data_dir, out, "--training.max_epochs", EPOCHS))
    assert result.exit_code == 0, result.output
    return _untimed(read_rows(out / "metrics.jsonl"))


@pytest.mark.slow
def test_resume_after_max_epochs_equals_uninterrupted_run(tmp_path, data_dir, reference):
    out = tmp_path / "out"
    assert _train(_args(data_dir, out, "--training.max_epochs", 1)).exit_code == 0
    assert [p.name for p in out.glob("epoch-*/training-state")] == [STATE_DIR]
    result = _train(["--resume", out, "--training.max_epochs", EPOCHS])
    assert result.exit_code == 0, result.output
    assert "Resuming" in result.output and "after epoch 1" in result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    # Only the newest epoch keeps its training state.
    assert sorted(p.parent.name for p in out.glob("epoch-*/training-state")) == [f"epoch-{EPOCHS:03d}"]
    # The run is complete: resuming again changes nothing and says so.
    again = _train(["--resume", out])
    assert again.exit_code == 0 and "Nothing to resume" in again.output
    assert "training-state" not in {p.name for p in (out / "model-last").iterdir()}


@pytest.mark.slow
@pytest.mark.parametrize(
    "point,n",
    [
        ("update", 100),  # in the middle of epoch 2 (80 updates per epoch)
        ("evaluate", 2),  # scoring epoch 2
        ("save_state", 2),  # epoch 2's pipeline written, its state not yet
        ("metrics", 2),  # epoch 2 in place, its metrics row not yet written
        ("replace", 2),  # model-last moved away, the new one not yet in
    ],
)
def test_sigkill_leaves_a_consistent_folder_that_resumes(tmp_path, data_dir, reference, point, n):
    out = tmp_path / "out"
    args = _args(data_dir, out, "--training.max_epochs", EPOCHS)
    proc = subprocess.run([sys.executable, str(RUNNER), point, str(n), "KILL", "--", *args], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    _check_consistent(out)
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    _check_consistent(out)
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
@pytest.mark.parametrize("signal_name,code", [("INT", 130), ("TERM", 143)])
def test_signal_saves_model_last_and_exits(tmp_path, data_dir, reference, signal_name, code):
    out = tmp_path / "out"
    args = _args(data_dir, out, "--training.max_epochs", EPOCHS)
    proc = subprocess.run([sys.executable, str(RUNNER), "update", "100", signal_name, "--", *args],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert f"Interrupted by SIG{signal_name} in epoch 2" in proc.stderr
    assert f"recipe-train --resume {out}" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The interrupted epoch's averaged weights are in model-last; epoch 1 stays as it was.
    assert json.loads((out / "model-last" / "meta.json").read_text())["name"]
    assert list(epoch_folders(out)) == [1]
    _check_consistent(out)
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)


@pytest.mark.slow
@pytest.mark.parametrize("fault,reason", [("ENOSPC", "No space left on device"), ("EACCES", "Permission denied")])
def test_disk_errors_while_saving_are_one_line_and_keep_earlier_epochs(tmp_path, data_dir, fault, reason):
    out = tmp_path / "out"
    args = _args(data_dir, out, "--training.max_epochs", EPOCHS)
    proc = subprocess.run([sys.executable, str(RUNNER), "save_state", "2", fault, "--", *args],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Could not write" in lines[0] and reason in lines[0], proc.stderr
    assert "Earlier epochs are intact" in lines[0]
    assert list(epoch_folders(out)) == [1] and not (out / ".epoch-002.tmp").exists()
    _check_consistent(out)


@pytest.mark.slow
def test_keep_epochs_keeps_the_last_k_and_the_state(tmp_path, data_dir):
    out = tmp_path / "out"
    result = _train(_args(data_dir, out, "--training.max_epochs", 4, "--keep-epochs", 2))
    assert result.exit_code == 0, result.output
    assert list(epoch_folders(out)) == [3, 4]
    assert (out / "epoch-004" / STATE_DIR).is_dir() and not (out / "epoch-003" / STATE_DIR).exists()
    assert (out / "model-best").is_dir() and len(read_rows(out / "metrics.jsonl")) == 4
    # A resumed run keeps the run's own --keep-epochs.
    result = _train(["--resume", out, "--training.max_epochs", 5])
    assert result.exit_code == 0, result.output
    assert list(epoch_folders(out)) == [4, 5]


@pytest.mark.slow
def test_resume_refuses_what_would_change_or_shorten_the_run(tmp_path, data_dir):
    out = tmp_path / "out"
    assert _train(_args(data_dir, out, "--training.max_epochs", 2)).exit_code == 0
    for args, message in (
        (["--training.dropout", "0.1"], "training.dropout cannot be given"),
        (["--training.max_epochs", "1"], "would shorten the run"),
        (["ner"], "COMPONENT or DATA cannot be given"),
        (["--lang", "de"], "--lang cannot be given"),
    ):
        result = _train(["--resume", out, *args])
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    result = _train(["--resume", tmp_path / "nowhere"])
    assert result.exit_code == 1 and "No run to resume" in result.output
