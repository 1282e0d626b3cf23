import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.cli.main import app as umbrella_app
from recipe_cli.cli.train import app as train_app
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.evaluation.scoring import read_data
from recipe_cli.output.layout import epoch_dir
from recipe_cli.output.metrics import read_rows
from recipe_cli.training.optimizer import describe_optimizer

runner = CliRunner()


def _train(args, env=None, plot=False):
    # Without training.png (--no-plot) but where a test looks at it; test_progress.py tests the drawing.
    return runner.invoke(train_app, [str(a) for a in [*args, *([] if plot else ["--no-plot"])]], env=env)


def _assert_clean_failure(result, code, message):
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_help_documents_exit_codes():
    result = runner.invoke(train_app, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output and "--section.key" in result.output
    result = runner.invoke(umbrella_app, ["--help"])
    assert result.exit_code == 0 and "train" in result.output and "eval" in result.output


def test_missing_data(tmp_path):
    result = _train(["ner", tmp_path / "nope.iob", "-o", tmp_path / "out"])
    _assert_clean_failure(result, 1, "Data file not found")
    assert not (tmp_path / "out").exists()


def test_unknown_component(tmp_path, data_dir):
    result = _train(["nerr", data_dir / "wnut17-train.conll", "-o", tmp_path / "out"])
    _assert_clean_failure(result, 2, "Unknown component 'nerr'")


def test_unknown_option(tmp_path, data_dir):
    result = _train(["ner", data_dir / "wnut17-train.conll", "--epochs", "3", "-o", tmp_path / "out"])
    _assert_clean_failure(result, 2, "Invalid config override '--epochs'")


def test_config_that_fails_validation(tmp_path, data_dir):
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out", "--training.max_epochs", "many"])
    _assert_clean_failure(result, 1, "training.max_epochs")
    assert not (tmp_path / "out").exists()


def test_unknown_training_setting(tmp_path, data_dir):
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out", "--training.max_epoch", "3"])
    _assert_clean_failure(result, 1, "training.max_epoch: unknown setting (did you mean max_epochs?)")


def test_misspelled_config_section(tmp_path, data_dir):
    # spaCy drops a section its schema lacks: [trainig] would train with the defaults, as if it were not there.
    config = tmp_path / "typo.cfg"
    config.write_text("[trainig]\nmax_epochs = 2\n")
    result = _train(["ner", data_dir / "wnut17-train.conll", "-c", config, "-o", tmp_path / "out"])
    _assert_clean_failure(
        result, 1, f"{config}: [trainig] is not a section of a spaCy config (did you mean [training]?)"
    )
    assert not (tmp_path / "out").exists()


def test_bad_environment_value(tmp_path, data_dir):
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out"], env={"RECIPE_LEARN_RATE": "fast"})
    _assert_clean_failure(result, 1, "RECIPE_LEARN_RATE")


def test_data_without_annotation_for_the_component(tmp_path, data_dir):
    result = _train(["tagger", data_dir / "wnut17-train.conll", "-o", tmp_path / "out"])
    _assert_clean_failure(result, 1, "no tag annotation for the 'tagger' component")
    assert not (tmp_path / "out").exists()


def test_malformed_data_names_file_and_line(tmp_path):
    path = tmp_path / "bad.iob"
    path.write_text("Paris B-LOC\nis O\nnice\n")
    result = _train(["ner", path, "-o", tmp_path / "out"])
    _assert_clean_failure(result, 1, "bad.iob, line 3")


def test_output_folder_with_other_files_is_refused(tmp_path, data_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", out])
    _assert_clean_failure(result, 1, "holds files not written by recipe-train (notes.txt)")
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_output_path_that_is_a_file(tmp_path, data_dir):
    out = tmp_path / "out"
    out.write_text("x")
    _assert_clean_failure(_train(["ner", data_dir / "wnut17-train.conll", "-o", out]), 1, "is a file")


def test_gpu_without_a_gpu_library(tmp_path, data_dir):
    try:
        import cupy  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("cupy is installed: a GPU may be there")
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out", "--gpu-id", "0"])
    _assert_clean_failure(result, 1, "GPU 0 requested, but no GPU is available")
    assert not (tmp_path / "out").exists()


def test_a_gpu_is_named_by_its_id_and_name(monkeypatch):
    """What the training header says on a GPU (the device machines' check trains there for real), from thinc's
    current ops and CUDA's name for the device."""
    import types

    from recipe_cli import device

    gpu = types.SimpleNamespace(device_type="gpu")
    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        Device=lambda: types.SimpleNamespace(id=1),
        runtime=types.SimpleNamespace(getDeviceProperties=lambda i: {"name": b"NVIDIA H200" if i == 1 else b"?"}),
    ))  # fmt: skip
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setattr(device, "get_current_ops", lambda: gpu)
    assert device.describe_device() == "GPU 1 (NVIDIA H200)"
    monkeypatch.setattr(device, "get_current_ops", lambda: types.SimpleNamespace(device_type="cpu"))
    assert device.describe_device() == "CPU"


def _to_docbin(nlp, examples, path: Path) -> Path:
    DocBin(docs=[eg.reference for eg in examples]).to_disk(path)
    return path


def _spacy_evaluate(model: Path, data: Path, tmp_path: Path) -> dict:
    out = tmp_path / "spacy-scores.json"
    subprocess.run([sys.executable, "-m", "spacy", "evaluate", str(model), str(data), "--output", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return json.loads(out.read_text())


def _load_without_recipe_cli(paths: list[Path]) -> list[list[str]]:
    """Each pipeline's component names, every one loaded in one process that never imports recipe_cli."""
    code = (
        "import sys, json, spacy\n"
        f"names = [spacy.load(path).pipe_names for path in {[str(p) for p in paths]!r}]\n"
        "assert not any(m.startswith('recipe_cli') for m in sys.modules), 'recipe_cli was imported'\n"
        "print(json.dumps(names))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


E2E = {
    "ner": ("wnut17-train.conll", "wnut17-dev.conll", "ents_f", ["tok2vec", "ner"]),
    "tagger": ("ewt-train.conllu", None, "tag_acc", ["tok2vec", "tagger"]),
    "textcat": ("goemotions-train.json", "goemotions-dev.json", "cats_macro_f", ["textcat"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("component", sorted(E2E))
def test_train_two_epochs_end_to_end(tmp_path, data_dir, component):
    train_name, dev_name, metric, pipe_names = E2E[component]
    out = tmp_path / "out"
    # 150 training examples (of 360-500): every mechanism below runs as on the whole slice, in less time.
    args = [component, data_dir / train_name, "-o", out, "--training.max_epochs", "2", "--corpora.train.limit", "150"]
    if dev_name:
        args += ["--dev", data_dir / dev_name]
    result = _train(args, plot=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output  # no colour when not a terminal
    if dev_name is None:
        assert "held out from the training data (seed 0)" in result.output

    assert sorted(p.name for p in out.iterdir()) == ["epoch-001", "epoch-002", "metrics.jsonl", "model-best", "model-last", "run.json", "training.png"]  # fmt: skip
    rows = read_rows(out / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("step", "words", "losses", "dropout", "batch_size", "learn_rate", "score", "scores", "seconds"):
        assert all(key in r for r in rows), key
    assert rows[0]["step"] < rows[1]["step"]
    assert rows[1]["words"] == 2 * rows[0]["words"]
    assert rows[0]["dropout"] == rows[1]["dropout"] == 0.2  # the packaged default: constant 0.2
    assert rows[0]["scores"][metric] == pytest.approx(rows[0]["score"])
    best = max(rows, key=lambda r: r["score"])  # ties keep the earlier epoch
    assert [r["best"] for r in rows] == [True, rows[1]["score"] > rows[0]["score"]]

    # Every saved folder loads with plain spaCy, in a process that never imports recipe_cli.
    folders = ("epoch-001", "epoch-002", "model-best", "model-last")
    assert _load_without_recipe_cli([out / folder for folder in folders]) == [pipe_names] * len(folders)

    # The final config is saved: packaged defaults, the CLI override and the automatic batch size.
    saved = spacy.load(out / "model-best")
    assert saved.config["training"]["max_epochs"] == 2
    assert isinstance(saved.config["training"]["batcher"]["size"]["stop"], int)
    assert saved.config["training"]["optimizer"]["use_averages"] is True

    # `spacy evaluate` on the dev data gives the main score metrics.jsonl recorded for that epoch.
    nlp = spacy.load(out / "model-best")
    if dev_name:
        dev = list(
            RecipeCorpus(data_dir / dev_name, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0)(nlp)
        )
    else:
        dev = list(
            RecipeCorpus(data_dir / train_name, format="auto", sents_per_doc=1, holdout=0.1, part="heldout", seed=0)(
                nlp
            )
        )
    scores = _spacy_evaluate(out / "model-best", _to_docbin(nlp, dev, tmp_path / "dev.spacy"), tmp_path)
    assert scores[metric] == pytest.approx(best["scores"][metric], abs=1e-9)
    assert scores[metric] == pytest.approx(best["score"], abs=1e-9)

    # recipe-eval agrees too.
    result = runner.invoke(eval_app, [str(out / "model-best"), str(tmp_path / "dev.spacy"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scores"][metric] == pytest.approx(best["scores"][metric], abs=1e-9)


# One epoch at learn rate 0.005 (the recipe's 0.001 needs more epochs on these slices) lifts the dev score above
# the untrained pipeline's by at least `lifted`: about half the lift measured (--seed 0): morphologizer 0.426 /
# 0.142, senter (3 sentences per document) 0.413 / 0.0, textcat_multilabel (all 500 texts) 0.640 / 0.5. The parser
# trains beside a tagger, each component's own scores lifted: tag_acc 0.477 / 0.0003, dep_uas 0.372 / 0.051,
# dep_las 0.181 / 0.051 (the main score 0.377 / 0.026).
EVERY_COMPONENT = [
    ("morphologizer", "ewt-train.conllu", "ewt-dev.conllu", ["--corpora.train.limit", "40"], {"score": 0.14}),
    ("senter", "ewt-train.conllu", "ewt-dev.conllu", ["--corpora.train.limit", "130", "--corpora.train.sents_per_doc", "3"], {"score": 0.2}),
    ("textcat_multilabel", "goemotions-multilabel-train.json", "goemotions-multilabel-dev.json", [], {"score": 0.07}),
    ("tagger,parser", "ewt-train.conllu", "ewt-dev.conllu", ["--corpora.train.limit", "40"],
     {"score": 0.17, "tag_acc": 0.24, "dep_uas": 0.16, "dep_las": 0.065}),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "component,train_name,dev_name,extra,lifted", EVERY_COMPONENT, ids=[c[0] for c in EVERY_COMPONENT]
)
def test_every_component_trains(tmp_path, data_dir, component, train_name, dev_name, extra, lifted):
    """One epoch learns: its dev score beats the same pipeline left untrained (learn rate 0). Each weighted score
    in metrics.jsonl, and the main score, are what `spacy evaluate` gives on the same model and data."""
    rows = {}
    # A learn rate of 0 leaves the weights as initialised, so the untrained epoch stops after its first update: it
    # scores as the whole epoch would (tagger,parser: 0.0256 both ways), for a fraction of the time.
    for name, learn_rate, steps in (("trained", "0.005", "0"), ("untrained", "0", "1")):
        out = tmp_path / name
        result = _train([component, data_dir / train_name, "--dev", data_dir / dev_name, "-o", out, *extra,
                         "--training.max_epochs", "1", "--training.optimizer.learn_rate", learn_rate,
                         "--training.max_steps", steps])  # fmt: skip
        assert result.exit_code == 0, result.output
        (rows[name],) = read_rows(out / "metrics.jsonl")
        assert rows[name]["epoch"] == 1 and (out / "model-best" / "config.cfg").exists()
    for key, bound in lifted.items():
        trained, untrained = (
            rows[n][key] if key == "score" else rows[n]["scores"][key] for n in ("trained", "untrained")
        )
        assert trained > untrained + bound, (key, trained, untrained)

    model = tmp_path / "trained" / "model-best"
    nlp = spacy.load(model)
    # The dev data grouped into documents as the pipeline's dev corpus groups it (10 sentences for a parser).
    DocBin(docs=read_data(nlp, [data_dir / dev_name]).docs).to_disk(tmp_path / "dev.spacy")
    scores = _spacy_evaluate(model, tmp_path / "dev.spacy", tmp_path)
    weights = {key: weight for key, weight in nlp.config["training"]["score_weights"].items() if weight}
    for key in weights:
        assert scores[key] == pytest.approx(rows["trained"]["scores"][key], abs=1e-9), key
    main = sum(scores[key] * weight for key, weight in weights.items())
    assert main == pytest.approx(rows["trained"]["score"], abs=1e-9)


@pytest.mark.slow
def test_overwrite_keeps_other_files_and_replaces_the_run(tmp_path, data_dir):
    out = tmp_path / "out"
    args = ["ner", data_dir / "wnut17-train.conll", "--dev", data_dir / "wnut17-dev.conll", "-o", out,
            "--training.max_epochs", "1", "--corpora.train.limit", "30"]  # fmt: skip
    assert _train(args).exit_code == 0
    result = _train(args)
    _assert_clean_failure(result, 1, "holds an earlier recipe-train run")
    (out / "notes.txt").write_text("mine")
    # As if the earlier run had gone on to a second epoch: the new run of one epoch leaves none of it.
    shutil.copytree(out / "epoch-001", out / "epoch-002")
    result = _train([*args, "--overwrite"])
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine"
    assert len(read_rows(out / "metrics.jsonl")) == 1
    assert not (out / "epoch-002").exists()


@pytest.mark.slow
def test_user_config_departures_are_printed(tmp_path, data_dir):
    cfg = tmp_path / "spacy.cfg"
    subprocess.run([sys.executable, "-m", "spacy", "init", "config", str(cfg), "-p", "ner", "-F"], check=True,
                   capture_output=True)  # fmt: skip
    out = tmp_path / "out"
    result = _train(["ner", data_dir / "wnut17-train.conll", "--dev", data_dir / "wnut17-dev.conll", "-c", cfg, "-o", out,
                     "--training.max_epochs", "1", "--training.max_steps", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("! [W004] This config departs from the recipe")
    # Every departure, whichever source set it: spaCy's own settings in the file (its patience counts steps, its
    # run stops by max_steps), and the command line's max_epochs and max_steps.
    assert lines[start + 1 : start + 8] == [
        "    training.dropout: 0.1, recipe: recipe.linear_decay.v1(start=0.2, stop=0.2, decay=0.0)",
        "    training.batcher: spacy.batch_by_words.v1(size=compounding.v1(start=100, stop=1000, compound=1.001, "
        "t=0.0), discard_oversize=False, tolerance=0.2, get_length=null), recipe: spacy.batch_by_sequence.v1("
        "size=compounding.v1(start=1, stop=auto, compound=1.001, t=0.0), get_length=null)",
        "    training.optimizer.use_averages: False, recipe: True",
        "    training.eval_frequency: 200, recipe: 0",
        "    training.max_epochs: 1, recipe: 30",
        "    training.patience: 1600, recipe: 5",
        "    training.max_steps: 20, recipe: 0",
    ]
    assert not lines[start + 8].startswith("    training.")
    # spaCy's batch_by_words counts words, not examples.
    assert "- Batch size: 100 → 1000 words (from the config)" in lines
    (row,) = read_rows(out / "metrics.jsonl")
    assert row["step"] == 20


def _entity_counts(path: Path) -> str:
    """A UNER IOB2 file's entities (id, word, tag, two unused columns; # comments), counted from its B- tags as the
    summary lists them (most frequent first)."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf8").splitlines()]
    tags = [row[2] for row in rows if len(row) == 5 and not row[0].startswith("#")]
    counts = Counter(tag[2:] for tag in tags if tag.startswith("B-"))
    return ", ".join(f"{label} {n:,}" for label, n in counts.most_common())


def test_dev_labels_are_shown_and_those_training_lacks_are_named(tmp_path, data_dir):
    # UNER's LOC and ORG beside WNUT17's lower-case types: the dev labels are all unknown to training.
    dev = data_dir / "uner-dev.iob2"
    result = _train(["ner", data_dir / "wnut17-train.conll", "--dev", dev, "-o", tmp_path / "out", "--dry-run",
                     "--corpora.train.limit", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("- Dev data: "))
    assert lines[start + 1] == f"    entities (2): {_entity_counts(dev)}"
    assert lines[start + 2] == (
        "! Data: [W005] dev entities never seen in training: LOC (73), ORG (6); nothing trained on this data predicts "
        "them, so each counts as a miss in the dev score"
    )


@pytest.mark.slow
def test_python_dash_m_runs_train(tmp_path, data_dir):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "recipe_cli", "train", "ner", str(data_dir / "wnut17-train.conll"), "-o", str(out),
         "--training.max_epochs", "1", "--corpora.train.limit", "30"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (out / "epoch-001").is_dir()


@pytest.mark.slow
@pytest.mark.parametrize("patience", [1, 2])
def test_patience_stops_epochs_after_the_best(tmp_path, data_dir, patience):
    """The default stop: with a learn rate of 0 no epoch scores better than the first (ties keep the earlier), so
    training stops `patience` epochs after it, long before max_epochs."""
    out = tmp_path / "out"
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", out, "--training.max_epochs", "8",
                     "--training.patience", patience, "--corpora.train.limit", "20",
                     "--training.optimizer.learn_rate", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "metrics.jsonl")
    assert [r["epoch"] for r in rows] == list(range(1, patience + 2))
    assert [r["score"] for r in rows] == [rows[0]["score"]] * len(rows)
    assert [r["best"] for r in rows] == [True] + [False] * patience
    assert f"Stopping: no better dev score for {patience} epochs" in result.output
    assert not (out / epoch_dir(patience + 2)).exists()


def test_settings_that_never_stop_are_refused(tmp_path, data_dir):
    args = ["ner", data_dir / "wnut17-train.conll", "-o", tmp_path / "out", "--training.max_epochs", "0"]
    result = _train([*args, "--training.patience", "0"])
    _assert_clean_failure(result, 1, "Training would never stop")
    assert not (tmp_path / "out").exists()


def test_environment_overrides_are_printed(tmp_path, data_dir):
    out = tmp_path / "out"
    env = {"RECIPE_LEARN_RATE": "0.002", "SPACY_CONFIG_OVERRIDES": "--corpora.train.limit 20"}
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", out, "--training.max_epochs", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "Environment override RECIPE_LEARN_RATE: training.optimizer.learn_rate = 0.002" in result.output
    assert "Environment override SPACY_CONFIG_OVERRIDES: corpora.train.limit = 20" in result.output
    (row,) = read_rows(out / "metrics.jsonl")
    assert row["learn_rate"] == 0.002


@pytest.mark.parametrize(
    "value,reason",
    [("training.max_epochs 3", "expected --section.key value"), ('--training.max_epochs "3', "No closing quotation"),
     ("--epochs 3", "not a dotted config path")],
)  # fmt: skip
def test_malformed_spacy_config_overrides(tmp_path, data_dir, value, reason):
    out = tmp_path / "out"
    result = _train(["ner", data_dir / "wnut17-train.conll", "-o", out], env={"SPACY_CONFIG_OVERRIDES": value})
    _assert_one_line_error(result, "SPACY_CONFIG_OVERRIDES could not be parsed")
    assert reason in result.output
    assert not out.exists()


def test_unknown_format_is_a_usage_error(tmp_path, data_dir):
    result = _train(["ner", data_dir / "wnut17-train.conll", "--format", "xml", "-o", tmp_path / "out"])
    _assert_clean_failure(result, 2, "Unknown data format 'xml'")


@pytest.mark.slow
def test_format_option_reads_an_unknown_extension(tmp_path, data_dir):
    data = tmp_path / "train.annotated"
    data.write_text((data_dir / "wnut17-train.conll").read_text())
    out = tmp_path / "out"
    result = _train(
        ["ner", data, "--format", "iob", "-o", out, "--training.max_epochs", "1", "--corpora.train.limit", "30"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "model-best").is_dir()


@pytest.mark.slow
def test_train_on_a_glob_of_files(tmp_path, data_dir):
    folder = tmp_path / "corpus"
    folder.mkdir()
    text = (data_dir / "wnut17-train.conll").read_text().split("\n\t\n")
    (folder / "part1.conll").write_text("\n\t\n".join(text[:20]) + "\n")
    (folder / "part2.conll").write_text("\n\t\n".join(text[20:40]) + "\n")
    out = tmp_path / "out"
    result = _train(
        ["ner", f"{folder}/*.conll", "--dev", data_dir / "wnut17-dev.conll", "-o", out, "--training.max_epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "Training data: 40 examples" in result.output
    assert "- Device: CPU" in result.output.splitlines()
    packaged = spacy.util.load_config(Path(__file__).resolve().parent.parent / "configs" / "ner.cfg")
    optimizer = packaged["training"]["optimizer"]["@optimizers"]
    assert f"- Optimizer: {describe_optimizer(optimizer, gpu=False)}" in result.output.splitlines()


@pytest.mark.slow
def test_train_textcat_from_a_tsv(tmp_path, data_dir):
    records = json.loads((data_dir / "goemotions-train.json").read_text())[:200]
    data = tmp_path / "emotions.tsv"
    data.write_text("text\tlabel\n" + "".join(f"{t}\t{max(a['cats'], key=a['cats'].get)}\n" for t, a in records))
    out = tmp_path / "out"
    result = _train(["textcat", data, "-o", out, "--training.max_epochs", "1"])
    assert result.exit_code == 0, result.output
    (row,) = read_rows(out / "metrics.jsonl")
    assert "cats_macro_f" in row["scores"]


# Prodigy exports as Prodigy writes them (tests/data/README.md).
FASHION = "prodigy-fashion-brands.jsonl"
DOCS_ISSUES = "prodigy-docs-issues.jsonl"


def _assert_one_line_error(result, message):
    assert isinstance(result.exception, SystemExit), result.exception
    _assert_clean_failure(result, 1, message)


def _project_docbin(path: Path, records: list[dict], convert) -> Path:
    """An export converted to a DocBin as the published project converts it."""
    nlp = spacy.blank("en")
    docs = []
    for eg in records:
        doc = nlp.make_doc(eg["text"])
        if convert(doc, eg) is not False:
            docs.append(doc)
    DocBin(docs=docs).to_disk(path)
    return path


def _ner_as_the_project_converts(doc, eg):
    doc.ents = [doc.char_span(s["start"], s["end"], label=s["label"]) for s in eg.get("spans", [])]


def _textcat_as_the_project_converts(doc, eg):
    if eg["answer"] == "ignore":
        return False
    accept = eg["answer"] == "accept"
    doc.cats = {"DOCUMENTATION": accept, "N/A": not accept}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line.strip()]


@pytest.mark.slow
def test_prodigy_ner_export_trains_and_scores_as_spacy_evaluate(tmp_path, data_dir):
    """A ner.manual export (tokens without 'ws', most records with "spans": []) trains, and every dev score in
    metrics.jsonl is what `spacy evaluate` gives on the export converted as the published project converts it."""
    out = tmp_path / "out"
    data = data_dir / FASHION
    result = _train(["ner", data, "--dev", data, "-o", out, "--training.max_epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "entities (1): FASHION_BRAND 3" in result.output
    rows = read_rows(out / "metrics.jsonl")
    best = next(r for r in rows if r["best"])
    converted = _project_docbin(tmp_path / "dev.spacy", _records(data), _ner_as_the_project_converts)
    scores = _spacy_evaluate(out / "model-best", converted, tmp_path)
    for key in ("ents_f", "ents_p", "ents_r"):
        assert scores[key] == pytest.approx(best["scores"][key], abs=1e-9), key
    result = runner.invoke(eval_app, [str(out / "model-best"), str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["scores"]["ents_f"] == pytest.approx(best["scores"]["ents_f"], abs=1e-9)


@pytest.mark.slow
def test_prodigy_binary_textcat_learns_from_its_rejects(tmp_path, data_dir):
    """accept/reject answers on one label: trained as textcat_multilabel (said so), the rejects as negatives."""
    out = tmp_path / "out"
    data = data_dir / DOCS_ISSUES
    result = _train(["textcat", data, "--dev", data, "-o", out, "--training.max_epochs", "2"])
    assert result.exit_code == 0, result.output
    (note,) = [line for line in result.output.splitlines() if "trained as textcat_multilabel" in line]
    assert "'textcat'" in note and "DOCUMENTATION: 6 positive, 12 negative" in note
    assert "Traceback" not in result.output and "nothing to choose between" not in result.output
    saved = spacy.load(out / "model-best")
    assert saved.pipe_names == ["textcat_multilabel"]
    assert saved.get_pipe_meta("textcat_multilabel").factory == "textcat_multilabel"
    assert saved.config["components"]["textcat_multilabel"]["model"]["exclusive_classes"] is False
    assert list(saved.get_pipe("textcat_multilabel").labels) == ["DOCUMENTATION"]
    rows = read_rows(out / "metrics.jsonl")
    assert all(r["scores"]["cats_score"] > 0 for r in rows)
    best = next(r for r in rows if r["best"])
    converted = _project_docbin(tmp_path / "dev.spacy", _records(data), _textcat_as_the_project_converts)
    scores = _spacy_evaluate(out / "model-best", converted, tmp_path)
    assert scores["cats_score"] == pytest.approx(best["scores"]["cats_score"], abs=1e-9)


def test_dry_run_says_textcat_is_trained_as_textcat_multilabel(tmp_path, data_dir):
    out = tmp_path / "out"
    result = _train(["textcat", data_dir / DOCS_ISSUES, "-o", out, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Pipeline: textcat_multilabel" in result.output
    notes = [line for line in result.output.splitlines() if "'textcat' is trained as textcat_multilabel" in line]
    assert len(notes) == 1
    assert "Dry run" in result.output and not out.exists()


def _assert_textcat_refuses(path, out, dry_run, message):
    """textcat on data it cannot learn from: one line naming the record, in a dry run too, and no output folder."""
    args = ["textcat", path, "--dev", path, "-o", out, "--training.max_epochs", "1"]
    result = _train([*args, "--dry-run"] if dry_run else args)
    _assert_one_line_error(result, message)
    assert "train textcat_multilabel instead" in result.output
    assert not out.exists()


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_textcat_given_several_categories_per_text(tmp_path, data_dir, dry_run):
    path = tmp_path / "topics.jsonl"
    path.write_text('{"text": "a", "cats": {"A": 1, "B": 0}}\n{"text": "b", "cats": {"A": 0, "B": 1}}\n'
                    '{"text": "a b", "cats": {"A": 1, "B": 1}}\n{"text": "c", "cats": {"A": 0, "B": 1}}\n')  # fmt: skip
    out = tmp_path / "out"
    _assert_textcat_refuses(path, out, dry_run, f"{path}, line 3: several categories at 1 in one text (A, B)")
    # Files without lines name the document.
    result = _train(["textcat", data_dir / "goemotions-multilabel-train.json", "-o", out, "--dry-run"])
    _assert_one_line_error(result, "goemotions-multilabel-train.json, document ")


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_textcat_given_yes_no_answers_about_several_labels(tmp_path, data_dir, dry_run):
    """Prodigy's textcat.teach over two labels: each answer tells about one label only, which an exclusive
    textcat cannot learn from (the other label's value is unknown); textcat_multilabel can."""
    records = [json.loads(line) for line in (data_dir / DOCS_ISSUES).read_text(encoding="utf8").splitlines()]
    for record in records[1::2]:
        record["label"] = "BUG"
    path = tmp_path / "teach.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    out = tmp_path / "out"
    _assert_textcat_refuses(path, out, dry_run, f"{path}, line 1: a value for DOCUMENTATION of the 2 categories only")
    result = _train(["textcat_multilabel", path, "--dev", path, "-o", out, "--dry-run"])
    assert result.exit_code == 0, result.output


def test_textcat_given_graded_categories(tmp_path):
    path = tmp_path / "graded.jsonl"
    path.write_text('{"text": "a", "cats": {"A": 1, "B": 0}}\n{"text": "b", "cats": {"A": 0.3, "B": 0.7}}\n')
    result = _train(["textcat_multilabel", path, "--dev", path, "-o", tmp_path / "out", "--dry-run"])
    _assert_one_line_error(result, f"{path}, line 2: category value 0.3: textcat and textcat_multilabel learn from 0")


def test_prodigy_tokens_that_do_not_match_the_text(tmp_path, data_dir):
    lines = (data_dir / FASHION).read_text(encoding="utf8").splitlines()
    record = json.loads(lines[4])
    record["tokens"][3]["start"] += 1
    lines[4] = json.dumps(record)
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    result = _train(["ner", path, "-o", tmp_path / "out", "--dry-run"])
    _assert_one_line_error(result, f"{path}, line 5: token 3 'sweatpants' has offsets 19-28 that do not match the text")


def test_subprocesses_import_this_working_tree(tmp_path):
    """The kill-point runner, console scripts and benchmark smoke runs test this tree, not an installed copy."""
    from conftest import ROOT

    code = "import recipe_cli; print(recipe_cli.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert Path(result.stdout.strip()).resolve().parent == ROOT / "recipe_cli"


def test_the_command_line_starts_without_scipy():
    """Every `python -m recipe_cli` process (a sweep's trainers and evaluators too) imports the sweep's commands;
    scipy.stats, which takes over a second to import, waits until a report computes its statistics."""
    code = "import sys, recipe_cli.cli.main; print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
