import json
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

import recipe_cli.evaluation.scoring as evaluation
import recipe_cli.pipeline as pipeline
from recipe_cli.cli.evaluate import app as eval_app
from recipe_cli.cli.train import app as train_app
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.data.formats import read_docs
from recipe_cli.errors import RecipeError
from recipe_cli.output.metrics import read_rows

runner = CliRunner()


def _train(tmp_path_factory, data_dir, name, args):
    out = tmp_path_factory.mktemp(name) / "run"
    result = runner.invoke(train_app, [str(a) for a in [*args, "-o", out, "--no-plot"]])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    from conftest import DATA

    args = ["ner", DATA / "wnut17-train.conll", "--dev", DATA / "wnut17-dev.conll", "--training.max_epochs", "3",
            "--corpora.train.limit", "150"]  # fmt: skip
    return _train(tmp_path_factory, DATA, "ner", args)


@pytest.fixture(scope="module")
def textcat_run(tmp_path_factory):
    from conftest import DATA

    args = [
        "textcat",
        DATA / "goemotions-train.json",
        "--dev",
        DATA / "goemotions-dev.json",
        "--training.max_epochs",
        "1",
    ]
    return _train(tmp_path_factory, DATA, "textcat", args)


@pytest.fixture(scope="module")
def tagger_run(tmp_path_factory):
    from conftest import DATA

    args = ["tagger", DATA / "ewt-train.conllu", "--training.max_epochs", "1", "--corpora.train.limit", "120"]
    return _train(tmp_path_factory, DATA, "tagger", args)


def _spacy_evaluate(model, data, tmp_path) -> dict:
    out = tmp_path / "spacy.json"
    subprocess.run([sys.executable, "-m", "spacy", "evaluate", str(model), str(data), "--output", str(out)],
                   check=True, capture_output=True)  # fmt: skip
    return json.loads(out.read_text())


def _docbin(model, path, out):
    nlp = spacy.load(model)
    corpus = RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0)
    DocBin(docs=list(corpus.reference_docs(nlp))).to_disk(out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("run,data", [("ner_run", "wnut17-dev.conll"), ("textcat_run", "goemotions-dev.json"),
                                      ("tagger_run", "ewt-dev.conllu")])  # fmt: skip
def test_scores_equal_spacy_evaluate(request, tmp_path, data_dir, run, data):
    model = request.getfixturevalue(run) / "model-best"
    spacy_file = _docbin(model, data_dir / data, tmp_path / "data.spacy")
    expected = _spacy_evaluate(model, spacy_file, tmp_path)
    for path in (data_dir / data, spacy_file):  # our reader on the original file, and the DocBin
        result = runner.invoke(eval_app, [str(model), str(path), "--json"])
        assert result.exit_code == 0, result.output
        got = json.loads(result.output)
        numeric = {k: v for k, v in expected.items() if isinstance(v, float) and k != "speed"}
        assert numeric
        for key, value in numeric.items():
            assert got["scores"][key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.slow
def test_ner_per_label_table_has_support(ner_run, data_dir):
    result = evaluation.evaluate(ner_run / "model-best", [data_dir / "wnut17-dev.conll"])
    table = result["per_label"]["ents"]
    gold = {}
    for line in (data_dir / "wnut17-dev.conll").read_text().splitlines():
        if line.strip() and line.split()[-1].startswith("B-"):
            label = line.split()[-1][2:]
            gold[label] = gold.get(label, 0) + 1
    assert {label: values["support"] for label, values in table.items()} == gold
    for label, values in result["scores"]["ents_per_type"].items():
        assert table[label]["f"] == values["f"]


def _rank_auc(scores: list[float], positive: list[bool]) -> float:
    """The share of (positive, negative) pairs the scores put in the right order, ties counting half."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def test_rank_auc_by_hand():
    assert _rank_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert _rank_auc([0.5, 0.5, 0.9], [True, False, True]) == 0.75


@pytest.mark.slow
def test_textcat_per_label_table_has_auc(textcat_run, data_dir):
    result = evaluation.evaluate(textcat_run / "model-best", [data_dir / "goemotions-dev.json"])
    table = result["per_label"]["cats"]
    assert set(table) == {"admiration", "amusement", "anger", "gratitude", "love", "neutral"}
    # Each label's AUC is the rank AUC of the model's scores for it over the dev texts, computed here by hand.
    nlp = spacy.load(textcat_run / "model-best")
    docs = list(read_docs(data_dir / "goemotions-dev.json", nlp))
    gold, predicted = [doc.cats for doc in docs], [doc.cats for doc in nlp.pipe(doc.text for doc in docs)]
    for label, values in table.items():
        auc = _rank_auc([p[label] for p in predicted], [g[label] >= 0.5 for g in gold])
        assert values["auc"] == pytest.approx(auc, abs=1e-9), label
    assert sum(values["support"] for values in table.values()) == 150
    assert result["scores"]["cats_macro_f"] == pytest.approx(sum(v["f"] for v in table.values()) / len(table))


@pytest.mark.slow
def test_tagger_per_tag_accuracy_adds_up_to_tag_acc(tagger_run, data_dir):
    result = evaluation.evaluate(tagger_run / "model-best", [data_dir / "ewt-dev.conllu"])
    table = result["per_label"]["tags"]
    total = sum(v["support"] for v in table.values())
    assert total == sum(1 for line in (data_dir / "ewt-dev.conllu").read_text().splitlines()
                        if line and line.split("\t")[0].isdigit())  # fmt: skip
    # The support-weighted accuracy is spaCy's tag_acc, up to tokens whose tokenization differs from the gold.
    weighted = sum(v["acc"] * v["support"] for v in table.values()) / total
    assert weighted == pytest.approx(result["scores"]["tag_acc"], abs=0.005)
    assert table["NN"]["support"] > table["VBZ"]["support"] > 0


@pytest.mark.slow
def test_run_folder_scores_every_epoch_on_recorded_dev(ner_run, monkeypatch):
    loads = []
    real = pipeline.load_model
    monkeypatch.setattr(pipeline, "load_model", lambda path, **kw: loads.append(str(path)) or real(path, **kw))
    result = evaluation.evaluate_run(ner_run)
    rows = read_rows(ner_run / "metrics.jsonl")
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    # The recorded dev data reproduces the scores training recorded, epoch by epoch.
    for epoch, row in zip(result["epochs"], rows, strict=True):
        assert epoch["score"] == pytest.approx(row["score"], abs=1e-9)
        assert epoch["dev_score"] == row["score"]
    best = max(rows, key=lambda r: (r["score"], -r["epoch"]))
    assert result["best_epoch"] == best["epoch"]
    assert [e["best"] for e in result["epochs"]] == [r["epoch"] == best["epoch"] for r in rows]
    # Each epoch's pipeline loaded once; model-best and model-last are not loaded again.
    assert sorted(loads) == sorted(str(ner_run / f"epoch-00{i}") for i in (1, 2, 3))


@pytest.mark.slow
def test_run_folder_rescored_on_other_data(ner_run, data_dir):
    result = runner.invoke(eval_app, [str(ner_run), str(data_dir / "wnut17-train.conll")])
    assert result.exit_code == 0, result.output
    assert "best (dev)" in result.output and "best here" in result.output
    assert "wnut17-train.conll" in result.output


@pytest.mark.slow
def test_thresholds_gate_with_exit_codes(ner_run, data_dir):
    model, data = str(ner_run / "model-best"), str(data_dir / "wnut17-dev.conll")
    ok = runner.invoke(eval_app, [model, data, "--min", "ents_f=0.0", "--min", "score=0"])
    assert ok.exit_code == 0, ok.output
    failed = runner.invoke(eval_app, [model, data, "--min", "ents_f=0.99", "--min", "ents_p=1.01", "--min", "ents_r=0"])
    assert failed.exit_code == 3
    assert "ents_f=" in failed.output and "< 0.99" in failed.output and "ents_p=" in failed.output
    assert "ents_r" not in failed.output.split("below threshold")[-1]
    unknown = runner.invoke(eval_app, [model, data, "--min", "tag_acc=0.5"])
    assert unknown.exit_code == 1 and "tag_acc, not a score" in unknown.output
    bad = runner.invoke(eval_app, [model, data, "--min", "ents_f"])
    assert bad.exit_code == 2 and "expected SCORE=VALUE" in bad.output


@pytest.mark.slow
def test_json_output_is_only_json(ner_run, data_dir, tmp_path):
    out = tmp_path / "scores.json"
    result = runner.invoke(
        eval_app, [str(ner_run / "model-best"), str(data_dir / "wnut17-dev.conll"), "--json", "-o", str(out)]
    )
    assert result.exit_code == 0
    printed = json.loads(result.output)
    assert json.loads(out.read_text()) == printed
    assert set(printed) >= {"model", "data", "score", "scores", "speed", "words", "per_label", "thresholds"}


@pytest.mark.slow
def test_bad_inputs_are_one_line_errors(ner_run, textcat_run, data_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    cases = [
        ([str(tmp_path / "empty"), str(data_dir / "wnut17-dev.conll")], "not a spaCy pipeline folder"),
        ([str(tmp_path / "missing"), str(data_dir / "wnut17-dev.conll")], "could not be loaded"),
        ([str(ner_run / "model-best"), str(data_dir / "goemotions-dev.json")], "none of the annotation"),
        ([str(ner_run / "model-best")], "No data given"),
    ]
    labels = tmp_path / "labels.iob"
    labels.write_text("Paris B-CITY\nis O\n")
    cases.append(([str(ner_run / "model-best"), str(labels)], "label(s) CITY that the 'ner' component does not know"))
    for args, message in cases:
        result = runner.invoke(eval_app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_check_thresholds():
    scores = {"ents_f": 0.6, "ents_p": 0.5, "ents_per_type": {}}
    assert evaluation.check_thresholds(scores, {"ents_f": 0.55}) == []
    assert evaluation.check_thresholds(scores, {"ents_f": 0.65, "ents_p": 0.4}) == ["ents_f=0.6000 < 0.65"]
    with pytest.raises(RecipeError, match="ents_per_type"):
        evaluation.check_thresholds(scores, {"ents_per_type": 0.1})


def test_main_score_is_weighted_sum():
    assert evaluation.main_score({"a": 0.5, "b": 0.25, "c": None}, {"a": 0.5, "b": 0.5, "c": None, "d": 1.0}) == 0.375


def test_score_bar_scales_between_lowest_and_highest():
    from recipe_cli.cli.evaluate import score_bar

    assert score_bar(1.0, 0.0, 1.0, width=4) == "████"
    assert score_bar(0.5, 0.0, 1.0, width=4) == "██"
    assert score_bar(0.0, 0.0, 1.0, width=4) == "▏"
    assert score_bar(0.25, 0.0, 1.0, width=3) == "▊"  # 6 eighths
    assert score_bar(0.3, 0.3, 0.3, width=4) == "████"


def test_read_data_groups_sentences_as_the_pipeline_was_trained(data_dir):
    """A parser pipeline's dev corpus groups 10 sentences per doc through a ${...} reference."""
    from spacy.util import load_model_from_config

    from recipe_cli.config.build import recipe_config

    config = recipe_config(["parser"])
    config["training"]["batcher"]["size"]["stop"] = 16
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.config["corpora"]["dev"]["sents_per_doc"] == "${corpora.train.sents_per_doc}"
    data = evaluation.read_data(nlp, [data_dir / "ewt-dev.conllu"])
    assert len(data.docs) == 15


def _spans_morph_deps_examples():
    """Two sentences with spans, morphology and relations, and predictions that get some of each wrong."""
    from spacy.tokens import Doc, Span
    from spacy.training import Example

    vocab = spacy.blank("en").vocab
    words = [["She", "reads", "books", "."], ["Tom", "sold", "his", "car"]]
    # (heads, deps, morphs) of each sentence.
    gold = [
        ([1, 1, 1, 1], ["nsubj", "ROOT", "obj", "punct"], ["Case=Nom|Number=Sing", "Number=Sing|Tense=Pres", "Number=Plur", ""]),
        ([1, 1, 3, 1], ["nsubj", "ROOT", "nmod:poss", "obj"], ["Number=Sing", "Tense=Past", "Case=Gen|Number=Sing", "Number=Sing"]),
    ]  # fmt: skip
    guess = [
        ([1, 1, 1, 1], ["nsubj", "ROOT", "nsubj", "punct"], ["Case=Nom|Number=Plur", "Number=Sing|Tense=Past", "Number=Plur", ""]),
        ([1, 1, 1, 1], ["nsubj", "ROOT", "obj", "obj"], ["Number=Sing", "Tense=Past", "Number=Sing", "Number=Sing"]),
    ]  # fmt: skip
    gold_spans = [[(0, 1, "PERSON"), (2, 3, "THING")], [(0, 1, "PERSON"), (2, 4, "THING")]]
    guess_spans = [[(0, 1, "PERSON"), (1, 2, "THING")], [(0, 1, "PERSON"), (3, 4, "THING")]]
    examples = []
    for w, g, p, gs, ps in zip(words, gold, guess, gold_spans, guess_spans, strict=True):
        reference = Doc(vocab, words=w, heads=g[0], deps=g[1], morphs=g[2])
        predicted = Doc(vocab, words=w, heads=p[0], deps=p[1], morphs=p[2])
        reference.spans["sc"] = [Span(reference, *span) for span in gs]
        predicted.spans["sc"] = [Span(predicted, *span) for span in ps]
        examples.append(Example(predicted, reference))
    return examples


def _spans_morph_deps_scores(examples):
    """Scored as spaCy's spancat (key "sc"), morphologizer and parser score."""
    from spacy.pipeline.dep_parser import parser_score
    from spacy.scorer import Scorer

    scores = Scorer.score_spans(examples, "spans_sc", getter=lambda doc, key: doc.spans.get(key[6:], []),
                                has_annotation=lambda doc: "sc" in doc.spans, allow_overlap=True)  # fmt: skip
    scores.update(Scorer.score_token_attr_per_feat(examples, "morph", getter=lambda token, attr: token.morph.key))
    scores.update(parser_score(examples))
    return scores


def test_spans_morphology_and_relations_tables():
    """The tables spaCy's span, morphology and dependency scores give, each label with its count in the data."""
    from collections import Counter

    from recipe_cli.evaluation.per_label import per_label_tables

    examples = _spans_morph_deps_examples()
    scores = _spans_morph_deps_scores(examples)
    tables = per_label_tables(scores, examples)
    assert set(tables) == {"spans_sc", "morph", "deps"}
    gold = [eg.reference for eg in examples]
    expected = {
        "spans_sc": (scores["spans_sc_per_type"], Counter(s.label_ for doc in gold for s in doc.spans["sc"])),
        "morph": (scores["morph_per_feat"], Counter(f for doc in gold for t in doc for f in t.morph.to_dict())),
        "deps": (scores["dep_las_per_type"], Counter(t.dep_.lower() for doc in gold for t in doc if t.dep_ != "punct")),
    }
    for name, (per_type, support) in expected.items():
        assert set(tables[name]) == set(per_type) == set(support), name
        for label, row in tables[name].items():
            assert row == {**per_type[label], "support": support[label]}, (name, label)
    # Read by hand from the examples: PERSON found both times, THING never.
    assert tables["spans_sc"]["PERSON"]["f"] == 1.0 and tables["spans_sc"]["THING"]["f"] == 0.0
    assert tables["morph"]["Number"]["support"] == 6 and tables["deps"]["obj"]["support"] == 2


def test_recipe_eval_prints_span_tables_by_default_and_the_others_on_request():
    import io

    from recipe_cli.cli.evaluate import print_result
    from recipe_cli.display.console import Console
    from recipe_cli.evaluation.per_label import per_label_tables

    examples = _spans_morph_deps_examples()
    scores = _spans_morph_deps_scores(examples)
    result = {"model": "m", "data": ["d"], "words": 8, "score": 0.5, "speed": 1000.0, "scores": scores,
              "per_label": per_label_tables(scores, examples)}  # fmt: skip

    def printed(per_label):
        out = io.StringIO()
        print_result(Console(out), result, per_label)
        return out.getvalue().splitlines()

    def headers(lines):
        return [line.split()[0] for line in lines if line.split()[1:2] == ["P"]]

    assert headers(printed(None)) == ["SPANS_SC"]
    assert headers(printed(True)) == ["SPANS_SC", "MORPH", "DEPS"]
    assert headers(printed(False)) == []
    lines = printed(True)
    thing = next(line.split() for line in lines if line.startswith("THING"))
    assert thing == ["THING", "0.00", "0.00", "0.00", "2"]
    number = next(line.split() for line in lines if line.startswith("Number"))
    f = result["per_label"]["morph"]["Number"]["f"]
    assert number[-1] == "6" and float(number[3]) == pytest.approx(f * 100, abs=0.005)
