import random
import re
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest
import spacy
import srsly
from spacy.util import load_model_from_config

from recipe_cli.config.build import build_config
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.output.checkpoint import (
    copy_checkpoint,
    prune_epochs,
    remove_leftovers,
    save_pipeline,
    staged_folder,
    write_pipeline,
)
from recipe_cli.output.layout import (
    DIR_MODEL_BEST,
    STATE_DIR,
    default_output,
    epoch_folders,
    holds_results,
    is_run_entry,
    new_run,
    rebase_config_paths,
    run_path,
    write_run_file,
)
from recipe_cli.output.plots import BackgroundPlot
from recipe_cli.output.state import read_state
from recipe_cli.training.epochs import EpochBook
from recipe_cli.training.loop import EpochInfo
from recipe_cli.training.setup import resolve_training


def _params(nlp):
    """Every parameter array of every model node, keyed as the optimizer keys them."""
    params = {}
    for _, proc in nlp.pipeline:
        for node in proc.model.walk():
            for name in node.param_names:
                if node.has_param(name):
                    params[(node.id, name)] = node.get_param(name).copy()
    return params


def test_saved_epoch_has_averaged_weights_and_live_weights_stay(tmp_path, data_dir):
    overrides = {
        "paths.train": str(data_dir / "wnut17-train.conll"),
        "paths.dev": "unused",
        "training.batcher.size.stop": 4,
    }
    config = build_config(["ner"], overrides=overrides).config
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    T = resolve_training(nlp.config)
    optimizer = T["optimizer"]
    corpus = RecipeCorpus(
        data_dir / "wnut17-train.conll", format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0, limit=80
    )
    examples = list(corpus(nlp))
    nlp.initialize(lambda: examples, sgd=optimizer)
    for i in range(0, 80, 4):
        nlp.update(examples[i : i + 4], drop=0.3, sgd=optimizer)
    # Reading the averages first: the packaged optimizer (recipe.SparseAdam.v2) brings rows a batch left behind up
    # to date then, in the live weights too.
    averages = {key: numpy.asarray(value).copy() for key, value in optimizer.averages.items()}
    assert averages, "the optimizer keeps averages"
    live_before = _params(nlp)

    seen = {}

    def evaluate():
        seen["params"] = _params(nlp)
        return 0.5, {"ents_f": 0.5}

    # The epoch's bookkeeping as fit() runs it (no dev data: the evaluation is the stand-in above).
    logged = []
    book = EpochBook(nlp, T, SimpleNamespace(rehearsal=None, dev=[]), tmp_path, rng=random.Random(0), keep_epochs=0,
                     drawing=BackgroundPlot(tmp_path / "training.png", enabled=False), log_step=logged.append,
                     started=0.0)  # fmt: skip
    book.evaluate = evaluate
    info = EpochInfo(epoch=1, step=20, words=800, losses={"ner": 1.5}, dropout=0.2, batch_size=4, learn_rate=0.001,
                     seconds=2.0, finished=True, interrupted=False)  # fmt: skip
    book.record(info, [(20, 0.2, 4)], updates_ended=0.0)
    (row,) = book.rows
    assert (row["epoch"], row["score"], row["scores"], row["best"]) == (1, 0.5, {"ents_f": 0.5}, True)
    assert (book.best_epoch, book.best_score) == (1, 0.5)
    assert srsly.read_jsonl(tmp_path / "metrics.jsonl").__next__()["score"] == 0.5
    assert logged[0]["score"] == 0.5 and logged[0]["epoch"] == 1
    state = read_state(tmp_path / "epoch-001" / STATE_DIR)
    assert (state.epoch, state.step, state.best_epoch, state.best_score) == (1, 20, 1, 0.5)
    for name in ("epoch-001", DIR_MODEL_BEST, "model-last"):
        assert srsly.read_json(tmp_path / name / "meta.json")["performance"] == {"ents_f": 0.5}

    # Evaluation ran on the averaged weights...
    for key, avg in averages.items():
        assert numpy.array_equal(seen["params"][key], avg)
    # ...the live weights are back afterwards...
    live_after = _params(nlp)
    for key, value in live_before.items():
        assert numpy.array_equal(live_after[key], value)
    # ...and differ from the averages, so the checks above can fail.
    assert any(not numpy.array_equal(live_before[key], avg) for key, avg in averages.items())

    # The saved pipeline holds the averaged weights.
    saved = spacy.load(tmp_path / DIR_MODEL_BEST)
    saved_params = {}
    for (_, proc), (_, orig) in zip(saved.pipeline, nlp.pipeline, strict=True):
        for node, orig_node in zip(proc.model.walk(), orig.model.walk(), strict=True):
            for name in node.param_names:
                if node.has_param(name):
                    saved_params[(orig_node.id, name)] = node.get_param(name)
    for key, avg in averages.items():
        assert numpy.allclose(saved_params[key], avg)
    assert saved.meta["performance"] == {"ents_f": 0.5}


def test_copy_checkpoint_replaces_whole_folder(tmp_path):
    src = tmp_path / "epoch-002"
    src.mkdir()
    (src / "new.txt").write_text("new")
    dest = tmp_path / DIR_MODEL_BEST
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    copy_checkpoint(src, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-002", "model-best"]


@pytest.mark.parametrize(
    "name,ours",
    [("epoch-001", True), ("epoch-1234", True), ("model-best", True), ("model-last", True), ("metrics.jsonl", True),
     ("run.json", True), (".model-last.tmp", True), ("epoch-1", False), ("notes.txt", False), ("model", False)],
)  # fmt: skip
def test_is_run_entry(name, ours):
    assert is_run_entry(name) is ours


def _epochs(out, *numbers, state=True):
    for n in numbers:
        folder = out / f"epoch-{n:03d}"
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text("{}")
        if state:
            (folder / STATE_DIR).mkdir()
            (folder / STATE_DIR / "state.json").write_text("{}")


def _listing(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*"))


def test_epoch_folders_are_the_complete_epoch_folders_in_order(tmp_path):
    _epochs(tmp_path, 10, 2, 1)
    (tmp_path / "epoch-1").mkdir()  # not an epoch name
    (tmp_path / "epoch-003").write_text("a file, not a folder")
    (tmp_path / ".epoch-004.tmp").mkdir()
    assert epoch_folders(tmp_path) == {1: tmp_path / "epoch-001", 2: tmp_path / "epoch-002", 10: tmp_path / "epoch-010"}
    assert list(epoch_folders(tmp_path)) == [1, 2, 10]
    assert epoch_folders(tmp_path / "absent") == {}


@pytest.mark.parametrize(
    "keep,kept",
    [(0, [1, 2, 3, 4]), (1, [4]), (2, [3, 4]), (3, [2, 3, 4]), (9, [1, 2, 3, 4])],
)
def test_prune_epochs_keeps_the_newest_state_and_the_last_keep_epochs(tmp_path, keep, kept):
    _epochs(tmp_path, 1, 2, 3, 4, 5)
    prune_epochs(tmp_path, 4, keep)
    # Epoch 5 is newer than the one just saved (a resumed run's leftover is not this function's business).
    assert list(epoch_folders(tmp_path)) == [*kept, 5]
    with_state = [n for n, path in epoch_folders(tmp_path).items() if (path / STATE_DIR).exists()]
    assert with_state == [4, 5]
    assert all((path / "meta.json").exists() for path in epoch_folders(tmp_path).values())


def test_remove_leftovers_finishes_or_undoes_interrupted_replacements(tmp_path):
    # Killed between moving the old model-best away and the new one in: the old one comes back.
    (tmp_path / ".model-best.old").mkdir()
    (tmp_path / ".model-best.old" / "meta.json").write_text("old best")
    # Killed after the new model-last was in place: the old copy goes.
    (tmp_path / "model-last").mkdir()
    (tmp_path / "model-last" / "meta.json").write_text("new last")
    (tmp_path / ".model-last.old").mkdir()
    # Half-written folders and files go.
    (tmp_path / ".epoch-003.tmp").mkdir()
    (tmp_path / ".epoch-003.tmp" / "x").write_text("half")
    (tmp_path / ".run.json.tmp").write_text("{")
    (tmp_path / ".notes.txt.old").write_text("a file moved away")
    # What is not a temporary name stays, whatever it looks like.
    (tmp_path / "notes.tmp").write_text("user's")
    (tmp_path / ".hidden").write_text("user's")
    remove_leftovers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".hidden",
        "model-best",
        "model-last",
        "notes.tmp",
        "notes.txt",
    ]
    assert (tmp_path / "model-best" / "meta.json").read_text() == "old best"
    assert (tmp_path / "model-last" / "meta.json").read_text() == "new last"
    assert (tmp_path / "notes.txt").read_text() == "a file moved away"


def test_holds_results_only_for_what_a_run_saved():
    assert not holds_results([])
    assert not holds_results(["run.json", ".epoch-001.tmp", "training.png", "error.log"])
    for name in ("model-best", "model-last", "metrics.jsonl", "epoch-001"):
        assert holds_results(["run.json", name]), name


def test_write_run_file_replaces_it_whole(tmp_path):
    write_run_file(tmp_path, {"a": 1})
    write_run_file(tmp_path, {"b": 2})
    assert srsly.read_json(tmp_path / "run.json") == {"b": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_save_pipeline_replaces_an_earlier_folder_whole(tmp_path):
    nlp = spacy.blank("en")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "stale.txt").write_text("old")
    save_pipeline(nlp, tmp_path / "model")
    assert not (tmp_path / "model" / "stale.txt").exists()
    assert spacy.load(tmp_path / "model").lang == "en"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_copy_checkpoint_leaves_the_training_state_out(tmp_path):
    _epochs(tmp_path, 1)
    copy_checkpoint(tmp_path / "epoch-001", tmp_path / "model-last")
    assert _listing(tmp_path / "model-last") == ["meta.json"]
    assert (tmp_path / "epoch-001" / STATE_DIR).is_dir()


def test_default_output_is_named_after_the_data_whatever_letters_it_holds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Only *, ? and [ make a glob: a data file not (yet) there is named by its stem, capitals included.
    assert default_output(Path("corpora/XNLI.conll"), ["textcat"]) == Path("XNLI-textcat")
    assert default_output(Path("corpora/Xtra-*.conll"), ["ner"]) == Path("corpora-ner")
    # The working folder itself has no name to take.
    assert default_output(Path("."), ["ner", "tagger"]) == Path("data-ner+tagger")


def test_rebase_config_paths_rebases_relative_paths_that_exist_where_the_run_started(tmp_path):
    (tmp_path / "train.conll").write_text("")
    (tmp_path / "dev.conll").write_text("")
    (tmp_path / "label_config.xml").write_text("")
    run = {"cwd": str(tmp_path)}
    config = {
        "paths": {"train": "train.conll", "dev": "dev.conll", "raw": "absent.txt", "vectors": None},
        "corpora": {
            "train": {"@readers": "recipe.Corpus.v2", "path": "${paths.train}", "label_config": "label_config.xml"},
            "dev": {"@readers": "recipe.Corpus.v2", "path": "dev.conll", "label_config": None},
            "extra": {"@readers": "recipe.Corpus.v2", "path": ["train.conll", "absent.conll"]},
            "pretrain": {"@readers": "spacy.JsonlCorpus.v1"},
        },
    }
    rebase_config_paths(config, run)
    assert config == {
        "paths": {"train": str(tmp_path / "train.conll"), "dev": str(tmp_path / "dev.conll"), "raw": "absent.txt",
                  "vectors": None},
        "corpora": {
            "train": {"@readers": "recipe.Corpus.v2", "path": "${paths.train}",
                      "label_config": str(tmp_path / "label_config.xml")},
            "dev": {"@readers": "recipe.Corpus.v2", "path": str(tmp_path / "dev.conll"), "label_config": None},
            "extra": {"@readers": "recipe.Corpus.v2", "path": [str(tmp_path / "train.conll"), "absent.conll"]},
            "pretrain": {"@readers": "spacy.JsonlCorpus.v1"},
        },
    }  # fmt: skip
    # A config without [paths] (or without [corpora]) has only the other to rebase.
    corpora_only = {"corpora": {"dev": {"path": "dev.conll"}}}
    rebase_config_paths(corpora_only, run)
    assert corpora_only == {"corpora": {"dev": {"path": str(tmp_path / "dev.conll")}}}
    paths_only = {"paths": {"dev": "dev.conll"}}
    rebase_config_paths(paths_only, run)
    assert paths_only == {"paths": {"dev": str(tmp_path / "dev.conll")}}


def test_run_path_leaves_what_is_not_a_relative_path_that_exists_there(tmp_path):
    """Only a relative path that exists where the run started is rebased: not an empty value, a number, a
    ${...} reference, an absolute path, nor anything of a run that recorded no folder (an older run.json)."""
    (tmp_path / "dev.conll").write_text("")
    run = {"cwd": str(tmp_path)}
    assert run_path("dev.conll", run) == str(tmp_path / "dev.conll")
    assert run_path(["dev.conll", "absent.conll"], run) == [str(tmp_path / "dev.conll"), "absent.conll"]
    for value in ("", None, 5, "${paths.dev}", "/elsewhere/dev.conll", "absent.conll"):
        assert run_path(value, run) == value, value
    assert run_path("dev.conll", {}) == "dev.conll"


def test_new_run_records_the_version_command_folder_start_paths_and_limits(tmp_path, monkeypatch):
    import time

    monkeypatch.chdir(tmp_path)
    paths = {"train": "train.conll", "dev": None}
    before = time.time()
    run = new_run(version="1.2.3", argv=["ner", "train.conll"], paths=paths, keep_epochs=2, plot=False,
                  config="[paths]")  # fmt: skip
    started = run.pop("started")
    assert run == {"recipe_train": "1.2.3", "argv": ["ner", "train.conll"], "cwd": str(tmp_path), "paths": paths,
                   "keep_epochs": 2, "plot": False, "config": "[paths]", "code": None}  # fmt: skip
    # The --code file, as typed (relative to cwd), for --resume to import again.
    with_code = new_run(version="1.2.3", argv=[], paths=paths, keep_epochs=0, plot=True, config="", code="f.py")
    assert with_code["code"] == "f.py"
    # ISO 8601 with the UTC offset, to the second.
    stamp = time.mktime(time.strptime(started[:19], "%Y-%m-%dT%H:%M:%S"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", started) and abs(stamp - before) < 5


def _blank_with_optimizer():
    from thinc.api import Adam

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp, Adam(0.001)


def test_write_pipeline_saves_what_before_to_disk_returns(tmp_path):
    nlp, _ = _blank_with_optimizer()

    def before_to_disk(pipeline):
        pipeline.meta["description"] = "changed before saving"
        return pipeline

    write_pipeline(nlp, tmp_path / "epoch-001", {"f": 0.5, "per_type": {"X": 1.0}}, before_to_disk)
    meta = srsly.read_json(tmp_path / "epoch-001" / "meta.json")
    assert meta["description"] == "changed before saving" and meta["performance"] == {"f": 0.5}


@pytest.mark.parametrize("fails", ["before", "after"])
def test_a_failed_save_raises_its_own_error_and_leaves_nothing_behind(tmp_path, fails):
    """Whether the failure comes before anything is written in the staged folder or after (the state): the error
    is the one raised, not one from the tidying, and nothing but the earlier epoch is left."""
    nlp, _ = _blank_with_optimizer()
    with staged_folder(tmp_path / "epoch-001") as folder:
        write_pipeline(nlp, folder, {"f": 0.1})

    with pytest.raises(OSError, match="No space left on device"), staged_folder(tmp_path / "epoch-002") as folder:
        if fails == "after":
            write_pipeline(nlp, folder, {"f": 0.2})
        raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-001"]
    assert srsly.read_json(tmp_path / "epoch-001" / "meta.json")["performance"] == {"f": 0.1}


def test_a_save_replaces_what_a_killed_save_left_beside_the_folder(tmp_path):
    """A run killed mid-save can leave .NAME.tmp (half written) and .NAME.old (the folder being replaced): the next
    save of NAME writes over both and leaves neither."""
    nlp, _ = _blank_with_optimizer()
    for leftover in (".model-last.tmp", ".model-last.old"):
        (tmp_path / leftover).mkdir()
        (tmp_path / leftover / "stale.txt").write_text("from a killed run", encoding="utf8")
    save_pipeline(nlp, tmp_path / "model-last")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-last"]
    assert not (tmp_path / "model-last" / "stale.txt").exists()
    assert (tmp_path / "model-last" / "meta.json").is_file()
