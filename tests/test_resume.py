"""Resume and crash safety: interrupted runs resume to exactly the rows of an uninterrupted run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from pipeline_weights import weights_in_order
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.errors import RecipeError
from recipe_cli.output.layout import RUN_FILE, STATE_DIR, TEMP_ENTRY, epoch_folders, holds_results
from recipe_cli.output.metrics import read_rows
from recipe_cli.output.state import read_state
from recipe_cli.training.train import check_output_dir

runner = CliRunner()
RUNNER = Path(__file__).parent / "kill_runner.py"
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")
EPOCHS = 3
# Examples of training and dev data: one update per example (batch size 1), 30 updates per epoch.
LIMIT = 30


def _args(data_dir, out, *extra, relative=False):
    """The run's command line; relative: data paths relative to data_dir (run there), to check run.json's cwd."""
    folder = Path() if relative else Path(data_dir)
    return ["ner", str(folder / "wnut17-train.conll"), "--dev", str(folder / "wnut17-dev.conll"), "-o", str(out),
            "--corpora.train.limit", str(LIMIT),
            "--corpora.dev.limit", str(LIMIT), "--seed", "1", "-q", *map(str, extra)]  # fmt: skip


def _run_killed(point, n, what, args, cwd=None, then=(), weights=None):
    """Run recipe-train in a subprocess that sends itself `what` at the n-th call of `point` (kill_runner.py), and
    each further (point, n, what) of then at the n-th call of its own point. weights: a path where the process
    writes its live weights and the optimizer's averages as it exits."""
    faults = [str(x) for fault in ((point, n, what), *then) for x in fault]
    env = {**os.environ, "KILL_RUNNER_WEIGHTS": str(weights)} if weights else None
    return subprocess.run([sys.executable, str(RUNNER), *faults, "--", *map(str, args)],
                          capture_output=True, text=True, check=False, cwd=cwd, env=env)  # fmt: skip


def _train(args):
    # --no-plot: these runs do not look at training.png; the kill-point runs (kill_runner.py) still draw it.
    return runner.invoke(train_app, [str(a) for a in [*args, "--no-plot"]])


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


def _saved(name: str) -> bool:
    """Whether an entry of an output folder is one the run saves: run.json, its results and their temporary names
    (not training.png, which a drawing process may still be writing, nor a log)."""
    return name == RUN_FILE or holds_results([name]) or bool(TEMP_ENTRY.match(name))


def _files(folder: Path, only=lambda name: True) -> dict:
    """Every file under folder's entries that `only` takes, and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for entry in folder.iterdir() if only(entry.name)
            for p in sorted([entry, *entry.rglob("*")]) if p.is_file()}  # fmt: skip


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


def _assert_complete(out: Path) -> None:
    """After a run ends: model-last is the newest epoch, model-best the best row's, and no temporary names."""
    rows = read_rows(out / "metrics.jsonl")
    folders = epoch_folders(out)
    best = max(rows, key=lambda row: (row["score"], -row["epoch"]))["epoch"]
    for name, epoch in (("model-last", rows[-1]["epoch"]), ("model-best", best)):
        files = sorted(p.relative_to(out / name) for p in (out / name).rglob("*") if p.is_file())
        want = sorted(p.relative_to(folders[epoch]) for p in folders[epoch].rglob("*")
                      if p.is_file() and STATE_DIR not in p.parts)  # fmt: skip
        assert files == want, name
        assert all((out / name / f).read_bytes() == (folders[epoch] / f).read_bytes() for f in files), name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def _assert_saved_averages(model: Path, weights: Path) -> None:
    """model's parameters are the optimizer's averages that the run held as it stopped (written by kill_runner.py
    as the process exited), exactly (float32 saved and read back), and not the live weights: every averaged
    parameter equals its average, and the averages differ from the live weights somewhere."""
    recorded = numpy.load(weights)
    saved = [array for _, array in weights_in_order(spacy.load(model))]
    assert len(saved) == len([name for name in recorded.files if name.startswith("live_")])
    averaged = [i for i in range(len(saved)) if f"averaged_{i}" in recorded.files]
    assert averaged, "the optimizer averaged no parameter"
    for i in averaged:
        numpy.testing.assert_array_equal(saved[i], recorded[f"averaged_{i}"], err_msg=f"parameter {i}")
    assert any(not numpy.array_equal(recorded[f"averaged_{i}"], recorded[f"live_{i}"]) for i in averaged)


def _interrupted_meta(out: Path) -> dict:
    """model-last/meta.json after an interruption: it describes the unfinished epoch's weights, unscored."""
    meta = json.loads((out / "model-last" / "meta.json").read_text())
    assert meta["performance"] == {}
    assert "Interrupted in epoch" in meta["notes"] and "not evaluated" in meta["notes"]
    return meta["interrupted"]


@pytest.fixture(scope="module")
def reference_out(tmp_path_factory):
    """The folder of the uninterrupted run every resumed run must reproduce."""
    data_dir = Path(__file__).parent / "data"
    out = tmp_path_factory.mktemp("reference") / "out"
    result = _train(_args(data_dir, out, "--training.max_epochs", EPOCHS))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def reference(reference_out):
    """The rows of the uninterrupted run."""
    return _untimed(read_rows(reference_out / "metrics.jsonl"))


def _assert_same_configs(out: Path, reference_out: Path, data_dir: Path) -> None:
    """Every pipeline folder's config.cfg is the uninterrupted run's, the data paths as typed: the reference run
    named them absolute (data_dir/NAME), the run in out relative to its working folder (NAME)."""
    names = sorted(p.name for p in reference_out.iterdir() if (p / "config.cfg").is_file())
    assert sorted(p.name for p in out.iterdir() if (p / "config.cfg").is_file()) == names
    for name in names:
        want = (reference_out / name / "config.cfg").read_text().replace(f"{data_dir}/", "")
        assert (out / name / "config.cfg").read_text() == want, name


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
    before = _files(out, _saved)
    again = _train(["--resume", out])
    assert again.exit_code == 0 and "Nothing to resume" in again.output
    assert _files(out, _saved) == before
    assert "training-state" not in {p.name for p in (out / "model-last").iterdir()}


# What each kill point of the test below leaves: the entries the run saves, sorted.
BEFORE_EPOCH_1 = ["run.json"]
AFTER_EPOCH_1 = ["epoch-001", "metrics.jsonl", "model-best", "model-last", "run.json"]
KILLED = {
    **dict.fromkeys([("count", 1), ("initialize", 1), ("update", 1), ("update", 15), ("evaluate", 1)], BEFORE_EPOCH_1),
    ("save_state", 1): [".epoch-001.tmp", "run.json"],
    ("metrics", 1): ["epoch-001", "run.json"],
    ("update", 45): AFTER_EPOCH_1,
    ("evaluate", 2): AFTER_EPOCH_1,
    ("replace", 1): [".model-last.old", ".model-last.tmp", "epoch-001", "epoch-002", "metrics.jsonl", "model-best",
                     "run.json"],
    ("update", 75): ["epoch-001", "epoch-002", "metrics.jsonl", "model-best", "model-last", "run.json"],
    ("metrics", 3): ["epoch-001", "epoch-002", "epoch-003", "metrics.jsonl", "model-best", "model-last", "run.json"],
    ("replace", 2): [".model-last.old", ".model-last.tmp", "epoch-001", "epoch-002", "epoch-003", "metrics.jsonl",
                     "model-best", "run.json"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "point,n",
    [
        ("count", 1),  # counting the training data: only run.json is written
        ("initialize", 1),  # initialising the pipeline
        ("update", 1),  # the first update
        ("update", 15),  # in the middle of epoch 1
        ("evaluate", 1),  # scoring epoch 1
        ("save_state", 1),  # epoch 1's pipeline written under a temporary name, its state not yet
        ("metrics", 1),  # epoch 1 in place, its metrics row not yet written
        ("update", 45),  # in the middle of epoch 2
        ("evaluate", 2),  # scoring epoch 2
        ("replace", 1),  # epoch 2: model-last moved away, the new one not yet in
        ("update", 75),  # in the middle of the last epoch
        ("metrics", 3),  # the last epoch in place, its metrics row not yet written
        ("replace", 2),  # the last epoch: model-last moved away, the new one not yet in
    ],
)
def test_sigkill_leaves_a_consistent_folder_that_resumes(tmp_path, data_dir, reference, reference_out, point, n):
    out = tmp_path / "out"
    # Run in the data folder with relative data paths: the resumed run finds them from run.json's cwd.
    proc = _run_killed(point, n, "KILL", _args(data_dir, out, "--training.max_epochs", EPOCHS, relative=True),
                       cwd=data_dir)  # fmt: skip
    assert proc.returncode == -9, proc.stderr
    # The kill came where the parameter's comment says: the run's entries are those it had written by then.
    assert sorted(p.name for p in out.iterdir() if _saved(p.name)) == KILLED[point, n]
    if point == "save_state":
        assert (out / ".epoch-001.tmp" / "meta.json").is_file() and not (out / ".epoch-001.tmp" / STATE_DIR).exists()
    if (out / "metrics.jsonl").exists():
        assert len(read_rows(out / "metrics.jsonl")) == len(epoch_folders(out)) - (point == "metrics")
    _check_consistent(out)
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    if point in ("count", "initialize", "save_state") or (point == "update" and n < LIMIT):
        # Stopped before its first epoch was saved: the run starts again, and says so.
        assert "Starting again" in result.output and "stopped before its first epoch" in result.output
    _check_consistent(out)
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    _assert_complete(out)
    # The folders written after the resume (from another working folder) name the data as the run was given it.
    _assert_same_configs(out, reference_out, data_dir)
    assert json.loads((out / "run.json").read_text())["cwd"] == str(data_dir)


@pytest.mark.slow
@pytest.mark.parametrize("signal_name,code", [("INT", 130), ("TERM", 143)])
def test_signal_saves_model_last_and_exits(tmp_path, data_dir, reference, signal_name, code):
    out = tmp_path / "out"
    weights = tmp_path / "weights.npz"
    proc = _run_killed("update", 45, signal_name, _args(data_dir, out, "--training.max_epochs", EPOCHS),
                       weights=weights)  # fmt: skip
    assert proc.returncode == code, proc.stderr
    assert f"Interrupted by SIG{signal_name} in epoch 2" in proc.stderr
    assert f"recipe-train --resume {out}" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The interrupted epoch's averaged weights are in model-last, unscored; epoch 1 stays as it was: its folder is
    # model-best's copy of it, byte for byte, with the training state it was saved with.
    _assert_saved_averages(out / "model-last", weights)
    interrupted = _interrupted_meta(out)
    assert interrupted["epoch"] == 2 and interrupted["step"] == 45 and interrupted["evaluated"] is False
    assert reference[0]["words"] < interrupted["words"] < reference[1]["words"]
    assert list(epoch_folders(out)) == [1]
    assert {k: v for k, v in _files(out / "epoch-001").items() if not k.startswith(STATE_DIR)} == _files(
        out / "model-best"
    )
    state = read_state(out / "epoch-001" / STATE_DIR)
    assert (state.epoch, state.step) == (1, LIMIT)
    _check_consistent(out)
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    _assert_complete(out)
    assert "interrupted" not in json.loads((out / "model-last" / "meta.json").read_text())


@pytest.mark.slow
def test_a_second_signal_stops_at_once_and_the_run_resumes(tmp_path, data_dir, reference):
    """Ctrl-C in epoch 2, and Ctrl-C again as the unfinished epoch's weights are about to be saved: the run stops
    at once (exit 130, one line saying so and how to resume), model-last stays epoch 1's, and --resume gives the
    rows of the uninterrupted run."""
    out = tmp_path / "out"
    proc = _run_killed("update", 45, "INT", _args(data_dir, out, "--training.max_epochs", EPOCHS),
                       then=[("save_interrupted", 1, "INT")])  # fmt: skip
    assert proc.returncode == 130, proc.stderr
    assert "Interrupted by a second SIGINT in epoch 2: stopped at once" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"recipe-train --resume {out}" in proc.stderr and "Traceback" not in proc.stderr
    assert list(epoch_folders(out)) == [1]
    assert "interrupted" not in json.loads((out / "model-last" / "meta.json").read_text())
    _check_consistent(out)
    _assert_complete(out)  # model-last and model-best are epoch 1, byte for byte
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    _assert_complete(out)


@pytest.mark.slow
def test_interrupted_first_epoch_and_interrupted_resumed_run_resume(tmp_path, data_dir, reference):
    out = tmp_path / "out"
    proc = _run_killed("update", 15, "INT", _args(data_dir, out, "--training.max_epochs", EPOCHS))
    assert proc.returncode == 130, proc.stderr
    assert _interrupted_meta(out)["epoch"] == 1 and not epoch_folders(out)
    # The resumed run starts again (nothing was saved to go on from); Ctrl-C it in its epoch 2.
    proc = _run_killed("update", 45, "INT", ["--resume", out])
    assert proc.returncode == 130, proc.stderr
    assert "Starting again" in proc.stdout
    assert "Interrupted by SIGINT in epoch 2" in proc.stderr and f"recipe-train --resume {out}" in proc.stderr
    assert _interrupted_meta(out)["epoch"] == 2 and list(epoch_folders(out)) == [1]
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    assert "Resuming" in result.output and "after epoch 1" in result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    _assert_complete(out)


@pytest.mark.slow
def test_an_extension_outlives_the_interruption_of_its_run(tmp_path, data_dir, reference):
    out = tmp_path / "out"
    assert _train(_args(data_dir, out, "--training.max_epochs", 1)).exit_code == 0
    # Extend the run to EPOCHS and Ctrl-C it before it saves an epoch with the extended config: the printed
    # command goes on to EPOCHS all the same.
    proc = _run_killed("update", 15, "INT", ["--resume", out, "--training.max_epochs", EPOCHS])
    assert proc.returncode == 130, proc.stderr
    assert "Interrupted by SIGINT in epoch 2" in proc.stderr
    assert f"Resume with: recipe-train --resume {out}" in proc.stderr
    assert list(epoch_folders(out)) == [1]
    result = _train(["--resume", out])
    assert result.exit_code == 0, result.output
    assert f"training.max_epochs = {EPOCHS} (by an earlier --resume)" in result.output
    _assert_same_rows(_untimed(read_rows(out / "metrics.jsonl")), reference)
    _assert_complete(out)
    # The extension is the run's own now: a shorter one is refused.
    result = _train(["--resume", out, "--training.max_epochs", EPOCHS - 1])
    assert result.exit_code == 2 and "would shorten the run" in result.output


@pytest.mark.slow
@pytest.mark.parametrize("fault,reason", [("ENOSPC", "No space left on device"), ("EACCES", "Permission denied")])
def test_disk_errors_while_saving_are_one_line_and_keep_earlier_epochs(tmp_path, data_dir, fault, reason):
    out = tmp_path / "out"
    proc = _run_killed("save_state", 2, fault, _args(data_dir, out, "--training.max_epochs", EPOCHS))
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


def test_a_folder_a_run_saved_nothing_in_is_taken_over(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text("{}")
    (out / ".epoch-001.tmp").mkdir()
    check_output_dir(out, overwrite=False)  # stopped before its first epoch: nothing to lose
    for saved in ("epoch-001", "model-last"):
        (out / saved).mkdir()
        with pytest.raises(RecipeError, match="holds an earlier recipe-train run"):
            check_output_dir(out, overwrite=False)
        (out / saved).rmdir()


@pytest.mark.parametrize("content", ["{not json", '{"argv": [], "config": "[training\\nmax_epochs = "}'])
def test_an_unreadable_run_file_is_one_line(tmp_path, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(content)
    result = _train(["--resume", out])
    assert result.exit_code == 1 and "No run to resume" in result.output and "run.json" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
