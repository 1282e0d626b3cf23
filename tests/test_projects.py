"""recipe-train in place of `python -m spacy train` in published spaCy projects: slices of explosion/projects'
tutorials (tests/data/projects/), each project's own steps run as its project.yml writes them, the train step's
`python -m spacy train` swapped for recipe-train, and its next steps (spacy evaluate, spacy package) run unchanged
on recipe-train's output folder."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from thinc.api import Config
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.config.build import describe
from recipe_cli.output.metrics import read_rows

PROJECTS = Path(__file__).parent / "data" / "projects"
# The console script installed beside this Python: what a project's `recipe-train` runs.
RECIPE_TRAIN = Path(sys.executable).parent / "recipe-train"
SPACY_TRAIN = "python -m spacy train "
# Added to the train step to keep the test short: the recipe's limits (30 epochs, patience 5) replace the
# projects' own (20,000 steps), and three epochs of 60 examples show every part of the run, with an NER model that
# finds some of the dev entities (F 0.12 measured; after two epochs, one).
EPOCHS = 3
SHORT = ["--training.max_epochs", str(EPOCHS)]

runner = CliRunner()


def project_steps(project: Path) -> tuple[dict[str, list[str]], list[str]]:
    """Each command's script lines with the project's ${vars.x} filled in, and the folders the project declares
    (what `spacy project run` does before it runs a step)."""
    spec = srsly.read_yaml(project / "project.yml")
    values = spec.get("vars", {})

    def fill(line: str) -> str:
        return re.sub(r"\$\{vars\.(\w+)\}", lambda m: str(values[m.group(1)]), line)

    return {command["name"]: [fill(line) for line in command["script"]] for command in spec["commands"]}, spec[
        "directories"
    ]


def run_line(line: str, cwd: Path) -> subprocess.CompletedProcess:
    """One script line of a project, its `python` this interpreter."""
    words = shlex.split(line)
    if words[0] == "python":
        words[0] = sys.executable
    return subprocess.run(words, cwd=cwd, capture_output=True, text=True, timeout=600)


def swapped(line: str) -> list[str]:
    """The train step's line with `python -m spacy train` replaced by recipe-train, as a user would write it."""
    assert line.startswith(SPACY_TRAIN), line
    return [str(RECIPE_TRAIN), *shlex.split(line[len(SPACY_TRAIN) :])]


def copy_project(name: str, tmp_path: Path) -> tuple[Path, dict[str, list[str]]]:
    """The project's slice in a folder of its own, its folders made, its preprocess step run."""
    project = tmp_path / name
    shutil.copytree(PROJECTS / name, project)
    steps, folders = project_steps(project)
    for folder in folders:
        (project / folder).mkdir(exist_ok=True)
    for line in steps["preprocess"]:
        result = run_line(line, project)
        assert result.returncode == 0, result.stderr
    return project, steps


def option(words: list[str], *names: str) -> str:
    """The value a command line gives an option (spaCy's spellings)."""
    return next(words[i + 1] for i, word in enumerate(words) if word in names)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ner_fashion_brands", "textcat_docs_issues"])
def test_project_trains_with_recipe_train_and_its_next_steps_read_the_output(tmp_path, name):
    """preprocess → train (recipe-train) → evaluate, and package where the project has it, each step as the
    project writes it: every step exits 0, OUT holds spaCy's model-best and model-last beside the epochs, and
    spacy evaluate's scores of model-best are those recipe-train recorded for it."""
    project, steps = copy_project(name, tmp_path)
    (train_line,) = steps["train"]
    train = [*swapped(train_line), *SHORT]
    config_path = project / train[1]
    config = Config().from_disk(config_path, interpolate=False)
    result = subprocess.run(train, cwd=project, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr

    # Said first: the file's training settings the recipe replaced, from what to what.
    lines = result.stdout.splitlines()
    assert lines[0] == f"- The recipe's training settings replace {train[1]}'s (--keep-training-settings keeps them)"
    block = [line.strip() for line in lines[1 : next(i for i, line in enumerate(lines[1:], 1) if line[:4] != "    ")]]
    replaced = {line.split(":")[0]: line for line in block}
    assert replaced["training.dropout"].startswith(f"training.dropout: {describe(config['training']['dropout'])} → ")
    assert replaced["training.optimizer"].startswith(
        f"training.optimizer: {config['training']['optimizer']['@optimizers']}("
    )
    for key in ("batcher", "max_steps", "patience", "eval_frequency", "logger"):
        assert f"training.{key}" in replaced, block

    out = project / option(train, "--output", "-o")
    epochs = [f"epoch-{n:03d}" for n in range(1, EPOCHS + 1)]
    assert sorted(p.name for p in out.iterdir()) == [
        *epochs, "metrics.jsonl", "model-best", "model-last", "run.json", "training.png"
    ]  # fmt: skip
    rows = read_rows(out / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
    best = [row for row in rows if row["best"]][-1]
    nlp = spacy.load(out / "model-best")
    # The project's pipeline and main score, the recipe's training settings.
    assert nlp.pipe_names == config["nlp"]["pipeline"]
    assert nlp.config["training"]["score_weights"] == config["training"]["score_weights"]
    assert nlp.config["training"]["optimizer"]["use_averages"] is True
    assert nlp.config["training"]["batcher"]["@batchers"] == "spacy.batch_by_sequence.v1"
    assert nlp.config["training"]["max_epochs"] == EPOCHS

    # The project's own evaluate step, on recipe-train's model-best.
    (evaluate_line,) = steps["evaluate"]
    result = run_line(evaluate_line, project)
    assert result.returncode == 0, result.stdout + result.stderr
    scores = srsly.read_json(project / option(shlex.split(evaluate_line), "--output", "-o"))
    meta = srsly.read_json(out / "model-best" / "meta.json")
    shared = [key for key, value in best["scores"].items() if isinstance(value, float) and key != "speed"]
    assert shared and all(key in scores for key in shared), (shared, sorted(scores))
    for key in shared:
        assert scores[key] == pytest.approx(best["scores"][key], abs=1e-9), key
        assert meta["performance"][key] == pytest.approx(scores[key], abs=1e-9), key
    weights = {key: weight for key, weight in config["training"]["score_weights"].items() if weight}
    assert sum(scores[key] * weight for key, weight in weights.items()) == pytest.approx(best["score"], abs=1e-9)
    assert best["score"] > 0  # trained: scores that are all 0 would agree by chance

    if "package" in steps:
        (package_line,) = steps["package"]
        result = run_line(package_line, project)
        assert result.returncode == 0, result.stdout + result.stderr
        lang, words = nlp.lang, shlex.split(package_line)
        package = f"{lang}_{option(words, '--name')}-{option(words, '--version')}"
        assert (project / words[5] / package / "dist" / f"{package}.tar.gz").is_file()  # spacy package IN OUT

        # The workflow run again (its inputs changed): the train step replaces its earlier run, as spacy train
        # writes over its output folder, and leaves the evaluate step's file beside it.
        result = subprocess.run([*swapped(train_line), "--training.max_epochs", "1"], cwd=project, capture_output=True,
                                text=True, timeout=600)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert [row["epoch"] for row in read_rows(out / "metrics.jsonl")] == [1]
        assert not (out / "epoch-002").exists() and (out / "metrics.json").is_file()


@pytest.fixture(scope="module")
def fashion(tmp_path_factory) -> Path:
    """The NER project, its data preprocessed by its own step (shared by the dry runs below)."""
    project, _ = copy_project("ner_fashion_brands", tmp_path_factory.mktemp("projects"))
    return project


def _dry_run(project: Path, *args: str, monkeypatch, config: str = "configs/config.cfg") -> tuple[int, str]:
    """recipe-train in the project's folder with the project's data settings, --dry-run: nothing is written."""
    monkeypatch.chdir(project)
    data = ["--paths.train", "corpus/fashion_brands_training.spacy", "--paths.dev", "corpus/fashion_brands_eval.spacy"]
    result = runner.invoke(train_app, [config, *data, *args, "--dry-run"])
    return result.exit_code, result.output


def test_keep_training_settings_keeps_the_file_s(fashion, monkeypatch):
    """--keep-training-settings: nothing replaced; the file's settings are the config's departures from the recipe."""
    code, output = _dry_run(fashion, "--keep-training-settings", monkeypatch=monkeypatch)
    assert code == 0, output
    assert "training settings replace" not in output
    assert "    training.dropout: 0.1, recipe: recipe.linear_decay.v1(start=0.2, stop=0.2, decay=0.0)" in output
    assert "Batch size: 100 → 1000 words (from the config)" in output
    code, output = _dry_run(fashion, monkeypatch=monkeypatch)
    assert code == 0, output
    assert "    training.dropout: 0.1 → recipe.linear_decay.v1(start=0.2, stop=0.2, decay=0.0)" in output
    assert "departs from the recipe" not in output and "(automatic)" in output


# A project's own reader, registered in the file a project's train step names with spacy train's -c.
FUNCTIONS = """
from spacy.training import Corpus
from spacy.util import registry


@registry.readers("fashion_test.LongDocs.v1")
def long_docs(path: str, min_tokens: int):
    corpus = Corpus(path)

    def read(nlp):
        return (eg for eg in corpus(nlp) if len(eg.reference) >= min_tokens)

    return read
"""


@pytest.mark.parametrize("spelling", ["-c", "--code"])
def test_code_file_and_the_project_s_own_reader(fashion, monkeypatch, spelling):
    """spacy train's -c (or --code) names the file that registers the reader the project's config names, which
    reads the training data."""
    (fashion / "scripts" / "functions.py").write_text(FUNCTIONS, encoding="utf8")
    config = Config().from_disk(fashion / "configs" / "config.cfg", interpolate=False)
    config["corpora"]["train"] = {"@readers": "fashion_test.LongDocs.v1", "path": "${paths.train}", "min_tokens": 40}
    config.to_disk(fashion / "configs" / "own_reader.cfg")
    code, output = _dry_run(fashion, spelling, "scripts/functions.py", config="configs/own_reader.cfg",
                            monkeypatch=monkeypatch)  # fmt: skip
    assert code == 0, output
    docs = DocBin().from_disk(fashion / "corpus" / "fashion_brands_training.spacy").get_docs(spacy.blank("en").vocab)
    lengths = [len(doc) for doc in docs]
    long = sum(n >= 40 for n in lengths)
    assert 0 < long < len(lengths)
    assert f"Training data: {long} examples" in output
    assert "corpora.train: spacy.Corpus.v1" not in output  # the project's reader, not replaced


def test_config_without_data_paths(fashion, monkeypatch):
    monkeypatch.chdir(fashion)
    result = runner.invoke(train_app, ["configs/config.cfg", "--paths.dev", "corpus/fashion_brands_eval.spacy"])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "error: [E034] corpora.train names no data: its path is empty. Set it with --paths.train PATH, as a spaCy "
        "project's train step does."
    )
    assert not (fashion / "config-train").exists()
