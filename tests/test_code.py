"""--code FILE: the user's registered functions, imported before any config is resolved (as `spacy train --code`),
by recipe-train, recipe-eval and recipe-sweep, and again by --resume; and --version on every command."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from typer.testing import CliRunner

from recipe_cli import __version__
from recipe_cli.cli import sweep as sweep_cli
from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.cli.main import app as umbrella_app
from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import recipe_config
from recipe_cli.config.code import import_code
from recipe_cli.errors import RecipeError, StageError
from recipe_cli.output.layout import read_run_file
from recipe_cli.output.metrics import read_rows
from recipe_cli.sweep.spec import parse_spec
from recipe_cli.sweep.trial import commands

runner = CliRunner()
DATA = Path(__file__).parent / "data"
TRAIN, DEV = DATA / "wnut17-train.conll", DATA / "wnut17-dev.conll"

# A user's functions.py: a custom tok2vec architecture and a before_to_disk callback that marks the saved meta.
FUNCTIONS = """
from spacy.ml.models.tok2vec import MaxoutWindowEncoder, MultiHashEmbed, build_Tok2Vec_model
from spacy.util import registry


@registry.architectures("user_code_test.Tok2Vec.v1")
def user_tok2vec(width: int):
    embed = MultiHashEmbed(width=width, attrs=["NORM", "SHAPE"], rows=[1000, 500], include_static_vectors=False)
    return build_Tok2Vec_model(embed, MaxoutWindowEncoder(width=width, depth=1, window_size=1, maxout_pieces=2))


@registry.callbacks("user_code_test.mark_meta.v1")
def mark_meta(note: str):
    def before_to_disk(nlp):
        nlp.meta["user_note"] = note
        return nlp

    return before_to_disk
"""
NOTE = "saved through functions.py"


def _write_project(folder: Path) -> tuple[Path, Path]:
    """functions.py and a config whose tok2vec and before_to_disk only functions.py registers."""
    folder.mkdir(parents=True, exist_ok=True)
    code = folder / "functions.py"
    code.write_text(FUNCTIONS)
    config = recipe_config(["ner"])
    config["components"]["tok2vec"]["model"] = {"@architectures": "user_code_test.Tok2Vec.v1", "width": 32}
    config["components"]["ner"]["model"]["tok2vec"]["width"] = 32
    config["training"]["before_to_disk"] = {"@callbacks": "user_code_test.mark_meta.v1", "note": NOTE}
    path = folder / "custom.cfg"
    config.to_disk(path)
    return code, path


def _recipe(*args, cwd: Path) -> subprocess.CompletedProcess:
    """A fresh process, as a user's shell starts one: nothing registered but what it imports itself."""
    return subprocess.run([sys.executable, "-m", "recipe_cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, check=False)  # fmt: skip


def _one_line_failure(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_code_registers_a_custom_architecture_and_callback_for_train_resume_and_eval(tmp_path):
    project = tmp_path / "project"
    _write_project(project)
    short = ["--corpora.train.limit", "20", "--corpora.dev.limit", "20", "--no-plot", "-q"]
    run = ["train", "ner", TRAIN, "--dev", DEV, "-c", "custom.cfg", "-o", "out", "--training.max_epochs", "1", *short]

    # Without the file the config names functions nobody registered: one line, nothing written.
    _one_line_failure(_recipe(*run, cwd=project), "user_code_test.Tok2Vec.v1")
    assert not (project / "out").exists()

    trained = _recipe(*run, "--code", "functions.py", cwd=project)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    out = project / "out"
    assert read_run_file(out)["code"] == "functions.py"  # as typed, relative to the run's folder ("cwd")
    for model in ("epoch-001", "model-last", "model-best"):
        meta = srsly.read_json(out / model / "meta.json")
        assert meta["user_note"] == NOTE, model
        saved = (out / model / "config.cfg").read_text()
        assert '@architectures = "user_code_test.Tok2Vec.v1"' in saved

    # --resume in another folder and a fresh process imports the file run.json names again.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = _recipe("train", "--resume", out, "--training.max_epochs", "2", "--no-plot", "-q", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert [row["epoch"] for row in read_rows(out / "metrics.jsonl")] == [1, 2]
    assert srsly.read_json(out / "epoch-002" / "meta.json")["user_note"] == NOTE

    # recipe-eval loads the pipeline with the functions --code registers, and cannot without them.
    evaluate = ["eval", out / "model-last", DEV, "--json"]
    _one_line_failure(_recipe(*evaluate, cwd=elsewhere), "user_code_test.Tok2Vec.v1")
    scored = _recipe(*evaluate, "--code", project / "functions.py", cwd=elsewhere)
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert result["data"] == [str(DEV)] and 0.0 <= result["score"] <= 1.0
    # A run's folder, scored epoch by epoch, imports the file its run.json names, as --resume does.
    epochs = _recipe("eval", out, DEV, "--json", cwd=elsewhere)
    assert epochs.returncode == 0, epochs.stderr
    assert [epoch["epoch"] for epoch in json.loads(epochs.stdout)["epochs"]] == [1, 2]


def test_code_that_is_missing_or_fails_is_one_line(tmp_path):
    with pytest.raises(RecipeError) as error:
        import_code(tmp_path / "nope.py")
    assert (
        str(error.value)
        == f"[E018] Python code not found: {tmp_path / 'nope.py'} (--code names a file of registered functions)."
    )
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_module_here\n")
    with pytest.raises(StageError) as failed:
        import_code(broken)
    assert str(failed.value) == (
        f"[E070] Importing --code {broken} failed: ModuleNotFoundError: No module named 'no_such_module_here'"
    )
    result = runner.invoke(train_app, ["ner", str(TRAIN), "-o", str(tmp_path / "out"), "--code", str(broken)])
    assert result.exit_code == 1
    assert f"Importing --code {broken} failed: ModuleNotFoundError" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


def test_resume_takes_the_code_of_its_run_not_another(tmp_path):
    result = runner.invoke(train_app, ["--resume", str(tmp_path), "--code", "functions.py"])
    assert result.exit_code == 2
    assert "--code cannot be given" in result.output


def test_sweep_trials_import_the_code_in_train_and_eval(tmp_path, monkeypatch):
    code, _ = _write_project(tmp_path / "project")
    spec = {"tasks": {"t": {"component": "ner", "train": str(TRAIN), "dev": str(DEV), "test": str(DEV)}}, "seeds": 1}
    srsly.write_yaml(tmp_path / "spec.yml", spec)
    given = []

    def fake_run_sweep(parsed, output, **kwargs):
        given.extend(parsed.trials())
        raise RecipeError("stopped here")

    monkeypatch.setattr(sweep_cli, "run_sweep", fake_run_sweep)
    result = runner.invoke(sweep_cli.app, ["run", str(tmp_path / "spec.yml"), "-o", str(tmp_path / "sweep"),
                                           "--code", str(code)])  # fmt: skip
    assert result.exit_code == 1 and "stopped here" in result.output
    (trial,) = given
    assert trial.code == str(code.resolve())
    (_, train), (_, evaluate) = commands(trial, tmp_path / "sweep", python="py")
    assert train[-2:] == ["--code", str(code.resolve())]
    assert evaluate[-2:] == ["--code", str(code.resolve())]
    # The file is part of what decides a trial's result: another file, or the same file changed, is another trial.
    plain = parse_spec(spec, tmp_path / "spec.yml").trials()[0]
    assert plain.code is None and "--code" not in commands(plain, tmp_path / "sweep")[0][1]
    assert trial.fingerprint != plain.fingerprint
    before = trial.fingerprint
    code.write_text(FUNCTIONS + "\n# changed\n")
    assert trial.fingerprint != before


@pytest.mark.parametrize(
    "app,args",
    [(train_app, []), (eval_app, []), (sweep_cli.app, []), (umbrella_app, []), (umbrella_app, ["train"]),
     (umbrella_app, ["eval"]), (umbrella_app, ["sweep"])],
)  # fmt: skip
def test_version_names_the_project_and_spacy(app, args):
    result = runner.invoke(app, [*args, "--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"recipe-train {__version__} (spaCy {spacy.__version__})\n"
