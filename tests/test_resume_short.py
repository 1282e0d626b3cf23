"""Resume on short runs (seconds each): the same rows as the uninterrupted run, the repairs, the refusals, and
a run stopped before its first epoch started again from run.json."""

import errno
import io
import shutil
from pathlib import Path

import pytest
import srsly
from thinc.api import Config
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.errors import Errors, RecipeError, UsageError
from recipe_cli.output.layout import STATE_DIR, epoch_folders
from recipe_cli.output.metrics import read_rows, write_rows
from recipe_cli.training import resume as resume_module
from recipe_cli.training.resume import latest_state, resume

runner = CliRunner()
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")
DATA = Path(__file__).parent / "data"


def _args(out, *extra, folder=DATA):
    return ["ner", str(folder / "wnut17-train.conll"), "--dev", str(folder / "wnut17-dev.conll"), "-o", str(out),
            "--corpora.train.limit", "8", "--corpora.dev.limit", "8", "--seed", "1", "-q",
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


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"training.dropout": 0.1}, "E060"),
        ({"training.max_epochs": 1}, "E061.*training.max_epochs = 1 would shorten the run.*was 2"),
        ({"training.max_epochs": -1}, "E061"),
        ({"training.max_epochs": 2.5}, "E061"),
        ({"training.max_epochs": True}, "E061"),
        # max_steps was 0 (no limit): any limit would shorten it.
        ({"training.max_steps": 100}, "E061.*training.max_steps = 100.*was 0"),
    ],
)
def test_resume_refuses_overrides_that_would_change_or_shorten_the_run(copy, overrides, message):
    before = (copy / "run.json").read_text()
    with pytest.raises(UsageError, match=message):
        resume(copy, overrides=overrides, quiet=True)
    assert (copy / "run.json").read_text() == before


def test_resume_says_where_it_goes_on_from_and_every_extension(copy):
    state = srsly.read_json(copy / "epoch-002" / STATE_DIR / "state.json")
    best = f"best epoch {state['best_epoch']}, score {state['best_score']:.4f}"
    stdout = io.StringIO()
    resume(copy, overrides={"training.max_epochs": 3, "training.patience": 6}, stdout=stdout)
    lines = stdout.getvalue().splitlines()
    assert f"- Resuming: {copy} after epoch 2 (step {state['step']:,}; {best})" in lines
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
    with pytest.raises(RecipeError, match="E063.*epoch-002"):
        resume(copy, quiet=True)


def test_a_run_stopped_before_its_first_epoch_starts_again(copy, finished):
    argv = srsly.read_json(copy / "run.json")["argv"]
    for name in ("epoch-001", "epoch-002", "model-best"):
        shutil.rmtree(copy / name)
    (copy / "metrics.jsonl").unlink()
    # What Ctrl-C in the first epoch leaves: model-last with the unfinished epoch's weights. It is replaced.
    result = _train(["--resume", copy, "--training.max_epochs", 2])
    assert "Starting again" in result.output and f"{copy} was stopped before its first epoch" in result.output
    assert "Extended" in result.output and "training.max_epochs = 2" in result.output
    assert _rows(copy) == _rows(finished)
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
    assert kwargs == {"use_gpu": -1, "overwrite": True, "stdout": stdout, "stderr": stderr, "argv": run["argv"],
                      "quiet": False, "keep_epochs": 1}  # fmt: skip
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
