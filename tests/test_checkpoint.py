import numpy
import pytest
import spacy
from spacy.util import load_model_from_config

from recipe_cli.config.build import build_config
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.output.checkpoint import copy_checkpoint, save_epoch
from recipe_cli.output.layout import DIR_MODEL_BEST, is_run_entry
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
    live_before = _params(nlp)
    averages = {key: numpy.asarray(value).copy() for key, value in optimizer.averages.items()}
    assert averages, "the optimizer keeps averages"

    seen = {}

    def evaluate():
        seen["params"] = _params(nlp)
        return 0.5, {"ents_f": 0.5}

    score, scores = save_epoch(nlp, optimizer, tmp_path / "epoch-001", evaluate=evaluate)
    assert (score, scores) == (0.5, {"ents_f": 0.5})

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
    saved = spacy.load(tmp_path / "epoch-001")
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
