"""No traceback, ever: a fault injected into spaCy or thinc at each stage of a run is one line on stderr
naming the stage (and, for an update, the batch's documents), the traceback in OUT/error.log, exit 1, and
the output folder resumes from its last complete epoch."""

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import spacy
import spacy.pipeline.ner
from spacy.language import Language
from spacy.scorer import Scorer
from thinc.optimizers import Optimizer
from typer.testing import CliRunner

import recipe_cli.training.epochs as fitting
from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.cli.train import app as train_app
from recipe_cli.data.formats import read_docs
from recipe_cli.output.layout import epoch_folders
from recipe_cli.output.metrics import read_rows

runner = CliRunner()
EPOCHS = 2
TIMING = ("seconds", "train_seconds", "checkpoint_seconds")
INJECTED = "[E999] Injected fault."
ERROR_LOG = "error.log"


def _args(data_dir, out, *extra):
    return ["ner", data_dir / "wnut17-train.conll", "--dev", data_dir / "wnut17-dev.conll", "-o", out,
            "--corpora.train.limit", "20", "--corpora.dev.limit", "10", "--training.max_epochs", EPOCHS,
            "--seed", "1", "-q", "--no-plot", *extra]  # fmt: skip


def _invoke(app, args):
    return runner.invoke(app, [str(a) for a in args])


def _untimed(rows):
    rows = [{k: v for k, v in row.items() if k not in TIMING} for row in rows]
    for row in rows:
        row["scores"] = {k: v for k, v in row["scores"].items() if k != "speed"}
    return rows


def _fail_on_call(monkeypatch, owner, name, n):
    """Make owner.name raise a spaCy-style coded error at its n-th call (n = 0: its first call in epoch 2)."""
    original = getattr(owner, name)
    calls = {"n": 0, "epochs": 0}
    if n == 0:
        finish_epoch = fitting.finish_epoch

        def count_epochs(*args, **kwargs):
            calls["epochs"] += 1
            return finish_epoch(*args, **kwargs)

        monkeypatch.setattr(fitting, "finish_epoch", count_epochs)

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n or (n == 0 and calls["epochs"] == 1):
            raise ValueError(INJECTED)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def _assert_one_line(result, *expected) -> str:
    """Exit 1 from our error channel (not an exception that escaped), one error line, no traceback."""
    assert result.exit_code == 1, result.output
    # An exception escaping the command also exits 1 under CliRunner: only SystemExit is our own exit.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def _logged(line: str) -> Path:
    """The log file the error line names; it holds the traceback."""
    assert "(full traceback: " in line, line
    path = Path(line.rsplit("(full traceback: ", 1)[1].rstrip(")"))
    assert "Traceback (most recent call last)" in path.read_text(encoding="utf8")
    assert INJECTED in path.read_text(encoding="utf8")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run that a failed and resumed run must reproduce."""
    from conftest import DATA

    out = tmp_path_factory.mktemp("reference") / "out"
    result = _invoke(train_app, _args(DATA, out))
    assert result.exit_code == 0, result.output
    return _untimed(read_rows(out / "metrics.jsonl"))


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    """Temporary files (the log of a failure before OUT exists) go to a folder of the test's own."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _resumes_to(out: Path, reference) -> None:
    result = _invoke(train_app, ["--resume", out, "-q"])
    assert result.exit_code == 0, result.output
    assert _untimed(read_rows(out / "metrics.jsonl")) == reference


@pytest.mark.slow
@pytest.mark.parametrize(
    "owner,name,n,expected",
    [
        # Language.update is called once per batch: 20 batches of one example in epoch 1.
        (Language, "update", 25, ["Update failed in epoch 2, step 25 (batch of 1 document: ", "wnut17-train.conll #"]),
        # thinc: the optimizer, applied by the update.
        (Optimizer, "__call__", 0, ["Update failed in epoch 2, step 21 (batch of 1 document: "]),
        # The dev texts through the pipeline, then the entity recognizer's scorer.
        (Language, "pipe", 2, ["Evaluation failed after epoch 2: "]),
        (spacy.pipeline.ner, "get_ner_prf", 2, ["Evaluation failed after epoch 2: "]),
        (Language, "to_disk", 2, ["Saving failed for epoch 2 to "]),
    ],
    ids=["update", "optimizer", "pipe", "scorer", "to_disk"],
)
def test_fault_after_epoch_1_is_one_line_logged_and_resumes(
    tmp_path, data_dir, monkeypatch, reference, log_dir, owner, name, n, expected
):
    out = tmp_path / "out"
    _fail_on_call(monkeypatch, owner, name, n)
    result = _invoke(train_app, _args(data_dir, out))
    line = _assert_one_line(result, INJECTED, *expected)
    assert _logged(line) == out / ERROR_LOG
    assert not list(log_dir.iterdir())
    # Epoch 1 is complete, nothing half-written is left, and the run goes on from it.
    assert list(epoch_folders(out)) == [1] and not list(out.glob(".*.tmp"))
    assert len(read_rows(out / "metrics.jsonl")) == 1
    monkeypatch.undo()
    _resumes_to(out, reference)


@pytest.mark.slow
def test_update_fault_names_the_batch_documents_in_the_log(tmp_path, data_dir, monkeypatch, log_dir):
    out = tmp_path / "out"
    _fail_on_call(monkeypatch, Language, "update", 3)
    line = _assert_one_line(_invoke(train_app, _args(data_dir, out)), "Update failed in epoch 1, step 3")
    text = _logged(line).read_text(encoding="utf8")
    assert f"batch: {data_dir / 'wnut17-train.conll'} #" in text
    # Before any epoch is complete, the folder holds only the run's start and the log.
    assert sorted(p.name for p in out.iterdir()) == [ERROR_LOG, "run.json"]


@pytest.mark.slow
def test_initialize_fault_leaves_its_traceback_in_the_resumable_output_folder(
    tmp_path, data_dir, monkeypatch, log_dir, reference
):
    out = tmp_path / "out"
    _fail_on_call(monkeypatch, Language, "initialize", 1)
    line = _assert_one_line(_invoke(train_app, _args(data_dir, out)), "Initialization failed: ", INJECTED)
    # run.json is written before the data is read: the traceback goes beside it, and the run can start again.
    assert _logged(line) == out / ERROR_LOG
    assert sorted(p.name for p in out.iterdir()) == [ERROR_LOG, "run.json"]
    monkeypatch.undo()
    _resumes_to(out, reference)


@pytest.mark.slow
def test_ctrl_c_before_the_first_epoch_says_how_to_start_again(tmp_path, data_dir, monkeypatch, reference):
    out = tmp_path / "out"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Language, "initialize", interrupted)
    result = _invoke(train_app, _args(data_dir, out))
    assert result.exit_code == 130, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert f"Resume with: recipe-train --resume {out}" in " ".join(result.stderr.split())
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]
    monkeypatch.undo()
    _resumes_to(out, reference)


@pytest.mark.slow
def test_overwrite_with_bad_data_leaves_the_earlier_run_alone(tmp_path, data_dir):
    out = tmp_path / "out"
    assert _invoke(train_app, _args(data_dir, out, "--training.max_epochs", 1)).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.conll"
    bad.write_text("Alice B-person\nnice\n", encoding="utf8")
    args = ["ner", bad, "--dev", data_dir / "wnut17-dev.conll", "-o", out, "--overwrite", "-q"]
    _assert_one_line(_invoke(train_app, args), str(bad), "line 2")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


@pytest.mark.slow
def test_initialize_fault_leaves_an_earlier_run_alone(tmp_path, data_dir, monkeypatch, log_dir):
    out = tmp_path / "out"
    assert _invoke(train_app, _args(data_dir, out, "--training.max_epochs", 1)).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    _fail_on_call(monkeypatch, Language, "initialize", 1)
    _assert_one_line(_invoke(train_app, [*_args(data_dir, out), "--overwrite"]), "Initialization failed")
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.slow
def test_unexpected_error_outside_a_stage_is_one_line_too(tmp_path, data_dir, monkeypatch, log_dir):
    out = tmp_path / "out"

    def broken_info(*args, **kwargs):
        raise TypeError(f"'NoneType' object is not iterable {INJECTED}")

    monkeypatch.setattr(fitting, "logger_info", broken_info)
    line = _assert_one_line(_invoke(train_app, _args(data_dir, out)), "Training failed: TypeError: ")
    assert _logged(line) == out / ERROR_LOG


@pytest.mark.slow
def test_console_script_prints_one_line_on_stderr(tmp_path, data_dir):
    """The real process: stderr holds the error line and nothing else."""
    out = tmp_path / "out"
    code = (
        "import sys; from spacy.language import Language\n"
        "def update(self, *a, **k): raise ValueError('[E1031] Could not find gold transition')\n"
        "Language.update = update\n"
        "from recipe_cli.cli.train import app\n"
        "sys.argv[0] = 'recipe-train'; app()\n"
    )
    args = [str(a) for a in _args(data_dir, out)]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: [E070] Update failed in epoch 1, step 1 (batch of 1 document: ")
    assert "[E1031] Could not find gold transition" in lines[0]
    assert f"(full traceback: {out / ERROR_LOG})" in lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import DATA

    out = tmp_path_factory.mktemp("trained") / "out"
    assert _invoke(train_app, _args(DATA, out, "--training.max_epochs", 1)).exit_code == 0
    return out


@pytest.mark.slow
@pytest.mark.parametrize("owner,name", [(Scorer, "score"), (Language, "evaluate")])
@pytest.mark.parametrize("target", ["model-best", "run"])
def test_recipe_eval_fault_in_scoring_is_one_line(trained, data_dir, monkeypatch, log_dir, owner, name, target):
    model = trained / "model-best" if target == "model-best" else trained
    _fail_on_call(monkeypatch, owner, name, 1)
    result = _invoke(eval_app, [model, data_dir / "wnut17-dev.conll"])
    line = _assert_one_line(result, "Scoring failed for ", INJECTED)
    assert _logged(line).parent == log_dir


def test_recipe_eval_unexpected_error_is_one_line(tmp_path, monkeypatch, log_dir):
    import recipe_cli.cli.evaluate as evaluate_cli

    def broken(*args, **kwargs):
        raise KeyError(INJECTED)

    monkeypatch.setattr(evaluate_cli, "evaluate", broken)
    line = _assert_one_line(_invoke(eval_app, ["en_core_web_sm", tmp_path / "x.conll"]), "[E071] Unexpected error")
    assert _logged(line).parent == log_dir


def test_reader_tags_each_document_with_file_and_number(data_dir):
    from recipe_cli.data.formats import ORIGIN

    path = data_dir / "wnut17-dev.conll"
    docs = list(read_docs(path, spacy.blank("en")))
    assert [doc.user_data[ORIGIN] for doc in docs[:3]] == [(str(path), 1), (str(path), 2), (str(path), 3)]


def test_stage_names_the_batch_and_keeps_the_original_error():
    from spacy.training import Example

    from recipe_cli.data.formats import ORIGIN
    from recipe_cli.errors import StageError
    from recipe_cli.output.failures import describe_batch, stage

    nlp = spacy.blank("en")
    batch = []
    for i, text in enumerate(["a b", "c d", "e f"], start=1):
        doc = nlp.make_doc(text)
        doc.user_data[ORIGIN] = ("train.conll" if i < 3 else "more.conll", i * 10)
        batch.append(Example(nlp.make_doc(text), doc))
    assert describe_batch(batch) == "batch of 3 documents: train.conll #10, #20, more.conll #30"
    assert describe_batch(batch, shown=1) == "batch of 3 documents: train.conll #10 and 2 more"
    with pytest.raises(StageError) as caught, stage("Update", " in epoch 1, step 1", batch=batch):
        raise IndexError("list index out of range")
    assert str(caught.value) == (
        "[E070] Update failed in epoch 1, step 1 (batch of 3 documents: train.conll #10, #20, more.conll #30): "
        "IndexError: list index out of range"
    )
    assert isinstance(caught.value.error, IndexError)


def test_one_line_keeps_spacy_codes_and_names_other_errors():
    from recipe_cli.errors import one_line

    assert one_line(ValueError("[E1031] Could not find\n  gold transition")) == "[E1031] Could not find gold transition"
    assert one_line(KeyError("[E983] Invalid key")) == "[E983] Invalid key"
    assert one_line(IndexError("list index out of range")) == "IndexError: list index out of range"
    assert one_line(MemoryError()) == "MemoryError"
