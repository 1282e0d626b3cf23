"""Resume on short runs (seconds each): the same rows as the uninterrupted run, the repairs, the refusals, and
a run stopped before its first epoch started again from run.json."""

import errno
import io
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import srsly
from thinc.api import Config
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.errors import Errors, RecipeError, UsageError
from recipe_cli.output.layout import STATE_DIR, epoch_folders
from recipe_cli.output.metrics import read_rows, write_rows
from recipe_cli.output.state import read_state
from recipe_cli.training import resume as resume_module
from recipe_cli.training.resume import latest_state, resume

runner = CliRunner()
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")
DATA = Path(__file__).parent / "data"


def _args(out, *extra, folder=DATA):
    return ["ner", str(folder / "wnut17-train.conll"), "--dev", str(folder / "wnut17-dev.conll"), "-o", str(out),
            "--corpora.train.limit", "8", "--corpora.dev.limit", "8", "--seed", "1", "-q", "--no-plot",
            *map(str, extra)]  # fmt: skip


def _train(args):
    result = runner.invoke(train_app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _rows(out):
    rows = []
    for row in read_rows(out / "metrics.jsonl"):
        row = {k: v for k, v in row.items() if k not in TIMING}
        row["scores"] = {k: v for k, v in row["scores"].items() if k != "speed"}
        rows.append(row)
    return rows


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """Two uninterrupted epochs, trained from the data folder with relative paths."""
    out = tmp_path_factory.mktemp("finished") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(DATA)
        _train(_args(out, "--training.max_epochs", 2, folder=Path()))
    return out


@pytest.fixture
def copy(finished, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    return out


def test_a_run_resumed_elsewhere_gives_the_rows_of_the_uninterrupted_run(tmp_path, finished, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.chdir(DATA)
    _train(_args(out, "--training.max_epochs", 1, folder=Path()))
    # Resumed from another working directory: the relative data paths are those of the folder it ran in.
    monkeypatch.chdir(tmp_path)
    result = _train(["--resume", out, "--training.max_epochs", 2])
    assert "Resuming" in result.output and "after epoch 1" in result.output
    assert _rows(out) == _rows(finished)
    assert list(epoch_folders(out)) == [1, 2]
    assert [p.parent.name for p in out.glob("epoch-*/" + STATE_DIR)] == ["epoch-002"]
    assert srsly.read_json(out / "run.json")["extended"] == {"training.max_epochs": 2}


def test_a_finished_run_has_nothing_to_resume(copy):
    before = (copy / "metrics.jsonl").read_text()
    result = _train(["--resume", copy])
    assert "Nothing to resume" in result.output and "training.max_epochs = 2" in result.output
    # Not a byte changed: the recorded rows, timings included, stay as they are.
    assert (copy / "metrics.jsonl").read_text() == before and list(epoch_folders(copy)) == [1, 2]


def test_resume_repairs_what_a_kill_after_the_epoch_left_undone(copy, finished):
    rows = read_rows(copy / "metrics.jsonl")
    (copy / "metrics.jsonl").unlink()
    # Killed after epoch 2 was in place but before its row was written; a row of an epoch 3 that never
    # appeared cannot be there, but a hand-edited file might hold one.
    write_rows(copy / "metrics.jsonl", [rows[0], {**rows[1], "epoch": 3}])
    shutil.rmtree(copy / "model-last")
    shutil.rmtree(copy / "model-best")
    (copy / ".epoch-003.tmp").mkdir()
    resume(copy, quiet=True)
    assert _rows(copy) == _rows(finished)
    assert not (copy / ".epoch-003.tmp").exists()
    best = max(rows, key=lambda row: (row["score"], -row["epoch"]))["epoch"]
    for name, epoch in (("model-last", 2), ("model-best", best)):
        expected = copy / f"epoch-{epoch:03d}" / "meta.json"
        assert (copy / name / "meta.json").read_bytes() == expected.read_bytes(), name
        assert not (copy / name / STATE_DIR).exists()


def test_resume_extends_a_finished_run_and_remembers_the_extension(copy):
    result = _train(["--resume", copy, "--training.max_epochs", 3])
    assert "Extended" in result.output and "training.max_epochs = 3" in result.output
    assert [row["epoch"] for row in read_rows(copy / "metrics.jsonl")] == [1, 2, 3]
    assert srsly.read_json(copy / "run.json")["extended"] == {"training.max_epochs": 3}
    # A later resume keeps the extension, and says where it came from.
    again = _train(["--resume", copy])
    assert "Nothing to resume" in again.output and "training.max_epochs = 3" in again.output


ALLOWED = "training.max_epochs, training.max_steps, training.patience"


@pytest.mark.parametrize(
    "overrides,code,fields",
    [
        ({"training.dropout": 0.1}, "E060", {"what": "training.dropout", "allowed": ALLOWED}),
        ({"training.dropout": 0.1, "nlp.lang": "de", "training.max_epochs": 3}, "E060",
         {"what": "training.dropout, nlp.lang", "allowed": ALLOWED}),
        ({"training.max_epochs": 1}, "E061", {"name": "training.max_epochs", "new": 1, "old": 2}),
        ({"training.max_epochs": -1}, "E061", {"name": "training.max_epochs", "new": -1, "old": 2}),
        ({"training.max_epochs": 2.5}, "E061", {"name": "training.max_epochs", "new": 2.5, "old": 2}),
        ({"training.max_epochs": True}, "E061", {"name": "training.max_epochs", "new": True, "old": 2}),
        # max_steps was 0 (no limit): any limit would shorten it, and no number below 0 lifts it.
        ({"training.max_steps": 100}, "E061", {"name": "training.max_steps", "new": 100, "old": 0}),
        ({"training.max_steps": -1}, "E061", {"name": "training.max_steps", "new": -1, "old": 0}),
        ({"training.patience": 4}, "E061", {"name": "training.patience", "new": 4, "old": 5}),
    ],
    ids=["not-extending", "two-not-extending", "shorter", "negative", "not-whole", "bool", "limit-where-none",
         "negative-where-none", "less-patience"],
)  # fmt: skip
def test_resume_refuses_overrides_that_would_change_or_shorten_the_run(copy, overrides, code, fields):
    before = (copy / "run.json").read_text()
    with pytest.raises(UsageError) as info:
        resume(copy, overrides=overrides, quiet=True)
    assert str(info.value) == getattr(Errors, code).format(path=copy, **fields)
    assert (copy / "run.json").read_text() == before


def test_resume_says_where_it_goes_on_from_and_every_extension(copy):
    state = srsly.read_json(copy / "epoch-002" / STATE_DIR / "state.json")
    best = f"best epoch {state['best_epoch']}, score {state['best_score']:.4f}"
    stdout = io.StringIO()
    resume(copy, overrides={"training.max_epochs": 3, "training.patience": 6}, stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert f"- Resuming: {copy} after epoch 2 (step {state['step']:,}; {best})" in lines
    assert "- Device: CPU" in lines
    assert [line for line in lines if "Extended" in line] == [
        "- Extended: training.max_epochs = 3",
        "- Extended: training.patience = 6",
    ]
    stdout = io.StringIO()
    resume(copy, overrides={"training.max_epochs": 4}, stdout=stdout)
    assert [line for line in stdout.getvalue().splitlines() if "Extended" in line] == [
        "- Extended: training.patience = 6 (by an earlier --resume)",
        "- Extended: training.max_epochs = 4",
    ]
    assert srsly.read_json(copy / "run.json")["extended"] == {"training.max_epochs": 4, "training.patience": 6}
    stdout = io.StringIO()
    resume(copy, stdout=stdout)
    assert stdout.getvalue().splitlines() == [
        f"+ Nothing to resume in {copy}: the run ended at epoch 4 (training.max_epochs = 4; extend it with "
        "--training.max_epochs N)"
    ]


def test_no_limit_is_an_extension(copy):
    # 0 lifts a limit (patience was 5): allowed, and recorded.
    resume(copy, overrides={"training.max_epochs": 3, "training.patience": 0}, quiet=True)
    assert srsly.read_json(copy / "run.json")["extended"] == {"training.max_epochs": 3, "training.patience": 0}
    assert [row["epoch"] for row in read_rows(copy / "metrics.jsonl")] == [1, 2, 3]


def test_the_newest_epoch_with_a_state_is_resumed_from(copy):
    assert latest_state(copy) == copy / "epoch-002"
    shutil.rmtree(copy / "epoch-002" / STATE_DIR)
    with pytest.raises(RecipeError, match="E059"):
        latest_state(copy)


def test_a_broken_state_is_one_error_naming_it(copy):
    (copy / "epoch-002" / STATE_DIR / "state.json").write_text("{")
    with pytest.raises(ValueError) as json_error:
        json.loads("{")
    with pytest.raises(RecipeError) as info:
        resume(copy, quiet=True)
    assert str(info.value) == Errors.E063.format(path=copy / "epoch-002" / STATE_DIR, error=json_error.value)


def test_a_run_stopped_before_its_first_epoch_starts_again(copy, finished):
    argv = srsly.read_json(copy / "run.json")["argv"]
    for name in ("epoch-001", "epoch-002", "model-best"):
        shutil.rmtree(copy / name)
    (copy / "metrics.jsonl").unlink()
    # What Ctrl-C in the first epoch leaves: model-last with the unfinished epoch's weights. It is replaced.
    meta = srsly.read_json(copy / "model-last" / "meta.json")
    srsly.write_json(copy / "model-last" / "meta.json", {**meta, "interrupted": {"epoch": 1, "evaluated": False}})
    result = _train(["--resume", copy, "--training.max_epochs", 2])
    assert "Starting again" in result.output and f"{copy} was stopped before its first epoch" in result.output
    assert "Extended" in result.output and "training.max_epochs = 2" in result.output
    assert _rows(copy) == _rows(finished)
    assert (copy / "model-last" / "meta.json").read_bytes() == (copy / "epoch-002" / "meta.json").read_bytes()
    run = srsly.read_json(copy / "run.json")
    # The extension went into the recorded config, for a later resume; the command line stays the run's own.
    assert "max_epochs = 2" in run["config"] and run["argv"] == argv
    assert "${" in run["config"]  # the config is kept uninterpolated, as recorded


def test_keep_epochs_of_a_resumed_run(copy):
    resume(copy, overrides={"training.max_epochs": 3}, keep_epochs=1, quiet=True)
    assert list(epoch_folders(copy)) == [3]
    assert (copy / "epoch-003" / STATE_DIR).is_dir()


# --- a run stopped before its first epoch, started again (train() itself stands in: it only gets the arguments) ---


def _stopped_before_its_first_epoch(out):
    for name in ("epoch-001", "epoch-002", "model-best", "model-last"):
        shutil.rmtree(out / name)
    (out / "metrics.jsonl").unlink()
    return srsly.read_json(out / "run.json")


@pytest.fixture
def trains(monkeypatch):
    calls = []

    def train(config, out, **kwargs):
        calls.append((config, out, kwargs))
        return out

    monkeypatch.setattr(resume_module, "train", train)
    return calls


def test_a_run_started_again_gets_the_recorded_config_and_command_line_and_this_resumes_settings(copy, trains):
    run = _stopped_before_its_first_epoch(copy)
    stdout, stderr = io.StringIO(), io.StringIO()
    result = resume(copy, overrides={"training.max_epochs": 3}, stdout=stdout, stderr=stderr, keep_epochs=1)
    assert result == copy
    [(config, out, kwargs)] = trains
    assert out == copy and config.config["training"]["max_epochs"] == 3
    # The run drew no training.png (--no-plot): started again, it still draws none. Its run.json goes along: the
    # data paths, kept as typed in the config, are read from the folder it was started in.
    assert kwargs == {"use_gpu": -1, "overwrite": True, "stdout": stdout, "stderr": stderr, "argv": run["argv"],
                      "quiet": False, "keep_epochs": 1, "plot": False, "started": run,
                      "code": run["code"]}  # fmt: skip
    assert stdout.getvalue().splitlines() == [
        f"- Starting again: {copy} was stopped before its first epoch was saved; run.json has its config",
        "- Extended: training.max_epochs = 3",
    ]
    assert stderr.getvalue() == ""
    # The extension is recorded before the run starts again (which rewrites run.json only once its data is read):
    # stopped again before that, the folder still resumes to the longer run.
    recorded = srsly.read_json(copy / "run.json")
    assert {k: v for k, v in recorded.items() if k != "config"} == {k: v for k, v in run.items() if k != "config"}
    assert Config().from_str(recorded["config"], interpolate=False)["training"]["max_epochs"] == 3
    assert recorded["config"] == run["config"].replace("max_epochs = 2", "max_epochs = 3")


def test_a_quiet_run_started_again_prints_nothing_and_stays_quiet(copy, trains):
    _stopped_before_its_first_epoch(copy)
    stdout = io.StringIO()
    resume(copy, stdout=stdout, quiet=True, use_gpu=-1)
    assert stdout.getvalue() == ""
    [(_, _, kwargs)] = trains
    assert kwargs["quiet"] is True and kwargs["keep_epochs"] == 0 and kwargs["stdout"] is stdout


def test_a_run_started_again_refuses_what_would_shorten_it(copy, trains):
    _stopped_before_its_first_epoch(copy)
    before = (copy / "run.json").read_text()
    with pytest.raises(UsageError) as info:
        resume(copy, overrides={"training.max_epochs": 1}, quiet=True)
    assert str(info.value) == Errors.E061.format(path=copy, name="training.max_epochs", new=1, old=2)
    assert (copy / "run.json").read_text() == before and trains == []


def test_a_run_json_whose_config_cannot_be_read_is_one_error(copy, trains):
    run = _stopped_before_its_first_epoch(copy)
    srsly.write_json(copy / "run.json", {**run, "config": "[training\nmax_epochs = "})
    with pytest.raises(RecipeError) as info:
        resume(copy, quiet=True)
    why = " (nor a config in run.json to start it again from: ConfigValidationError)"
    assert str(info.value) == Errors.E059.format(path=copy, why=why) and trains == []


def test_a_full_disk_while_recording_the_extension_is_one_error_naming_the_folder(copy, trains, monkeypatch):
    _stopped_before_its_first_epoch(copy)

    def full(out, run):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resume_module, "write_run_file", full)
    with pytest.raises(RecipeError) as info:
        resume(copy, overrides={"training.max_epochs": 3}, quiet=True)
    assert str(info.value) == Errors.E062.format(path=copy, reason="No space left on device") and trains == []


# --- why a run would not go on, and what resume says and keeps (short, without training where it can) ---


@pytest.mark.parametrize(
    "limits,at,reason",
    [
        ({"max_epochs": 1}, {"epoch": 1}, "training.max_epochs = 1; extend it with --training.max_epochs N"),
        ({"max_epochs": 3}, {"epoch": 2}, ""),
        ({"max_epochs": 0}, {"epoch": 9}, ""),
        ({"max_steps": 1}, {"step": 1}, "training.max_steps = 1; extend it with --training.max_steps N"),
        ({"max_steps": 40}, {"step": 39}, ""),
        ({"patience": 1}, {"epoch": 3, "best_epoch": 2},
         "no better score for training.patience = 1 epochs; extend it with --training.patience N"),
        ({"patience": 3}, {"epoch": 4, "best_epoch": 2}, ""),
        ({"patience": 0}, {"epoch": 9, "best_epoch": 1}, ""),
    ],
)  # fmt: skip
def test_a_run_is_finished_by_the_first_limit_it_reached(limits, at, reason):
    T = {"max_epochs": 0, "max_steps": 0, "patience": 0, **limits}
    state = SimpleNamespace(**{"epoch": 1, "step": 10, "best_epoch": 1, **at})
    assert resume_module._finished(state, T) == reason


def test_a_folder_without_a_readable_run_file_is_one_error_naming_it(copy, tmp_path):
    (copy / "run.json").write_text("{")
    with pytest.raises(RecipeError) as info:
        resume(copy, quiet=True)
    assert str(info.value).startswith(Errors.E059.format(path=copy, why=" (run.json cannot be read: ")[:-1])
    with pytest.raises(RecipeError) as info:
        resume(tmp_path, quiet=True)
    why = " (run.json not found: not a recipe-train output folder)"
    assert str(info.value) == Errors.E059.format(path=tmp_path, why=why)


def test_the_newest_epoch_with_a_state_is_resumed_from_whatever_older_ones_keep(copy):
    shutil.copytree(copy / "epoch-002" / STATE_DIR, copy / "epoch-001" / STATE_DIR)
    assert latest_state(copy) == copy / "epoch-002"
    for epoch in (1, 2):
        shutil.rmtree(copy / f"epoch-{epoch:03d}" / STATE_DIR)
    with pytest.raises(RecipeError) as info:
        latest_state(copy)
    assert str(info.value) == Errors.E059.format(path=copy, why="")


def test_a_state_that_cannot_be_restored_is_one_error_naming_it(copy, monkeypatch):
    def broken(nlp, optimizer, path):
        raise KeyError("model.tok2vec.W")

    monkeypatch.setattr(resume_module, "restore_state", broken)
    with pytest.raises(RecipeError) as info:
        resume(copy, overrides={"training.max_epochs": 3}, quiet=True)
    assert str(info.value) == Errors.E063.format(path=copy / "epoch-002" / STATE_DIR, error="'model.tok2vec.W'")


def test_a_resumed_run_keeps_the_epochs_its_run_file_says(copy):
    run = srsly.read_json(copy / "run.json")
    srsly.write_json(copy / "run.json", {**run, "keep_epochs": 1})
    resume(copy, overrides={"training.max_epochs": 3}, quiet=True)
    assert list(epoch_folders(copy)) == [3]
    # A run file without the setting (an older one) keeps every epoch.
    run = srsly.read_json(copy / "run.json")
    del run["keep_epochs"]
    srsly.write_json(copy / "run.json", run)
    resume(copy, overrides={"training.max_epochs": 4}, quiet=True)
    assert list(epoch_folders(copy)) == [3, 4]


def test_a_quiet_resume_prints_only_the_summary_and_a_plain_one_prints_to_stdout(copy, capsys):
    resume(copy, overrides={"training.max_epochs": 3}, quiet=True)
    out = capsys.readouterr().out
    assert out.startswith("+ Best epoch ") and "Resuming" not in out and "Extended" not in out
    # The summary: the best epoch, where it is saved, the time.
    assert [line.split(":")[0] for line in out.splitlines()[1:]] == ["- Saved", "- Time"], out
    resume(copy, overrides={"training.max_epochs": 4})
    out = capsys.readouterr().out
    assert f"- Resuming: {copy} after epoch 3" in out and "- Extended: training.max_epochs = 4" in out


@pytest.mark.parametrize("step", ["_repair", "remove_leftovers"])
def test_a_full_disk_while_tidying_the_folder_is_one_error_naming_it(copy, monkeypatch, step):
    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resume_module, step, full)
    with pytest.raises(RecipeError) as info:
        resume(copy, quiet=True)
    assert str(info.value) == Errors.E062.format(path=copy, reason="No space left on device")


def test_repair_replaces_a_stale_model_best_when_the_saved_epoch_is_the_best(copy):
    state = replace(read_state(copy / "epoch-002" / STATE_DIR), best_epoch=2)
    # Killed after epoch 2 (the best) was in place, before model-best was replaced: it still holds epoch 1.
    shutil.rmtree(copy / "model-best")
    shutil.copytree(copy / "epoch-001", copy / "model-best", ignore=shutil.ignore_patterns(STATE_DIR))
    resume_module._repair(copy, state, keep=0)
    assert (copy / "model-best" / "meta.json").read_bytes() == (copy / "epoch-002" / "meta.json").read_bytes()


def test_repair_leaves_model_best_alone_when_the_best_epoch_is_gone(copy, finished):
    state = replace(read_state(copy / "epoch-002" / STATE_DIR), best_epoch=1)
    shutil.rmtree(copy / "epoch-001")
    shutil.rmtree(copy / "model-best")
    resume_module._repair(copy, state, keep=0)
    assert not (copy / "model-best").exists() and (copy / "model-last").is_dir()
    # With the metrics file gone too, its rows come back from the state.
    (copy / "metrics.jsonl").unlink()
    resume_module._repair(copy, state, keep=0)
    assert [row["epoch"] for row in read_rows(copy / "metrics.jsonl")] == [1, 2]
    assert _rows(copy) == _rows(finished)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_resume_without_streams_given_draws_its_progress_on_the_processes_stderr(copy, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("NO_COLOR", raising=False)
    resume(copy, overrides={"training.max_epochs": 3})
    assert terminal.getvalue().startswith("\rEpoch 3:   0%|")
