"""recipe-eval's library functions on a short textcat run (made once, seconds): which epoch is best, what each
epoch scores, which data is read, and the refusals."""

import shutil
from types import SimpleNamespace

import pytest
import spacy
import srsly
from spacy.tokens import Doc, Span
from spacy.training import Example
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.errors import Errors, RecipeError, Warnings
from recipe_cli.evaluation.scoring import (
    DevEvaluation,
    EvalData,
    check_data,
    evaluate,
    evaluate_run,
    main_score,
    read_data,
    recorded_dev_data,
    score,
)
from recipe_cli.output.layout import is_run_dir
from recipe_cli.output.metrics import read_rows, write_rows
from recipe_cli.pipeline import load_pipeline

runner = CliRunner()


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """Three epochs of textcat on 60 GoEmotions texts, trained from a folder with a relative dev path."""
    from conftest import DATA

    base = tmp_path_factory.mktemp("short")
    (base / "data").mkdir()
    shutil.copy(DATA / "goemotions-train.json", base / "data" / "train.json")
    shutil.copy(DATA / "goemotions-dev.json", base / "data" / "dev.json")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        args = ["textcat", "data/train.json", "--dev", "data/dev.json", "-o", "run", "--training.max_epochs", "3",
                "--corpora.train.limit", "60", "--no-plot"]  # fmt: skip
        result = runner.invoke(train_app, args)
    assert result.exit_code == 0, result.output
    return base / "run"


@pytest.fixture
def run(short_run, tmp_path):
    """A copy each test may change."""
    copy = tmp_path / "run"
    shutil.copytree(short_run, copy)
    return copy


def _set_dev_scores(run, scores):
    rows = read_rows(run / "metrics.jsonl")
    for row, value in zip(rows, scores, strict=True):
        row["score"] = value
    (run / "metrics.jsonl").unlink()
    write_rows(run / "metrics.jsonl", rows)


def _dev_examples(nlp, run):
    return recorded_dev_data(nlp, run).examples(nlp)


def test_every_epoch_scores_what_spacy_scores_it(run, short_run):
    result = evaluate_run(run)
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    for entry in result["epochs"]:
        nlp = spacy.load(run / f"epoch-{entry['epoch']:03d}")
        expected = nlp.evaluate(_dev_examples(nlp, run))
        assert entry["scores"]["cats_score"] == pytest.approx(expected["cats_score"])
        assert entry["score"] == pytest.approx(expected["cats_score"])
        assert "per_label" not in entry
    rows = {row["epoch"]: row["score"] for row in read_rows(run / "metrics.jsonl")}
    assert [e["dev_score"] for e in result["epochs"]] == [rows[1], rows[2], rows[3]]
    # The recorded dev data, found from another working directory through run.json's cwd.
    assert result["data"] == [str(short_run.parent / "data" / "dev.json")]
    assert result["run"] == str(run) and result["model"] == str(run / "model-best")
    assert result["words"] == sum(len(eg.reference) for eg in _dev_examples(spacy.load(run / "epoch-001"), run))


@pytest.mark.parametrize("dev,best", [([0.2, 0.5, 0.4], 2), ([0.5, 0.1, 0.5], 1), ([0.1, 0.2, 0.3], 3)])
def test_the_best_epoch_is_the_best_dev_score_and_ties_keep_the_earlier(run, dev, best):
    _set_dev_scores(run, dev)
    result = evaluate_run(run)
    assert result["best_epoch"] == best
    assert [e["best"] for e in result["epochs"]] == [e == best for e in (1, 2, 3)]
    best_entry = result["epochs"][best - 1]
    # The top level holds the best epoch's result, with its per-label tables.
    assert result["score"] == best_entry["score"] and result["scores"] == best_entry["scores"]
    # The AUCs tell the epochs apart where their F scores may not (a run this short may call every text neutral).
    per_type, auc = best_entry["scores"]["cats_f_per_type"], best_entry["scores"]["cats_auc_per_type"]
    assert set(result["per_label"]["cats"]) == set(per_type) == set(auc)
    for label, row in result["per_label"]["cats"].items():
        assert (row["f"], row["auc"]) == (per_type[label]["f"], auc[label]), label
    on_data = max(result["epochs"], key=lambda e: (e["score"], -e["epoch"]))["epoch"]
    assert result["best_epoch_on_data"] == on_data


def test_per_label_off_leaves_the_tables_out(run):
    assert "per_label" not in evaluate_run(run, per_label=False)
    assert "per_label" in evaluate_run(run, per_label=True)


def test_epochs_without_a_folder_are_left_out(run):
    shutil.rmtree(run / "epoch-002")
    assert [e["epoch"] for e in evaluate_run(run)["epochs"]] == [1, 3]
    for epoch in (1, 3):
        shutil.rmtree(run / f"epoch-{epoch:03d}")
    with pytest.raises(RecipeError) as info:
        evaluate_run(run)
    assert str(info.value) == Errors.E051.format(path=run, error="no epoch folders listed in metrics.jsonl")


def test_other_data_is_read_once_and_scored_for_every_epoch(run, data_dir, monkeypatch):
    import recipe_cli.evaluation.scoring as scoring

    reads = []
    monkeypatch.setattr(scoring, "read_data", lambda *args: reads.append(args[1]) or read_data(*args))
    result = evaluate_run(run, [data_dir / "goemotions-train.json"])
    assert reads == [[data_dir / "goemotions-train.json"]]
    assert result["data"] == [str(data_dir / "goemotions-train.json")]
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3]
    for epoch in result["epochs"]:
        nlp = spacy.load(run / f"epoch-{epoch['epoch']:03d}")
        examples = read_data(nlp, [data_dir / "goemotions-train.json"]).examples(nlp)
        assert epoch["scores"]["cats_score"] == pytest.approx(nlp.evaluate(examples)["cats_score"])
        assert epoch["words"] == sum(len(eg.reference) for eg in examples)


def test_evaluate_one_pipeline(run, data_dir):
    data = [data_dir / "goemotions-dev.json", data_dir / "goemotions-train.json"]
    result = evaluate(run / "model-best", data)
    nlp = spacy.load(run / "model-best")
    examples = read_data(nlp, data).examples(nlp)
    assert result["model"] == str(run / "model-best") and result["data"] == [str(p) for p in data]
    assert result["scores"]["cats_score"] == pytest.approx(nlp.evaluate(examples)["cats_score"])
    assert result["words"] == sum(len(eg.reference) for eg in examples)
    assert result["speed"] == result["scores"]["speed"] > 0
    assert "cats" in result["per_label"] and "per_label" not in evaluate(run / "model-best", data, per_label=False)
    with pytest.raises(RecipeError) as info:
        evaluate(run / "model-best", [])
    assert str(info.value) == Errors.E054.format(model=run / "model-best")


def test_a_data_file_with_nothing_in_it_is_named(run, tmp_path, data_dir):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(RecipeError) as info:
        evaluate(run / "model-best", [empty])
    assert str(info.value) == Errors.E028.format(path=empty)
    # A file its reader reads without complaint (blank lines only), after one that holds examples.
    blank = tmp_path / "blank.conllu"
    blank.write_text("\n\n")
    with pytest.raises(RecipeError) as info:
        read_data(spacy.blank("en"), [data_dir / "ewt-dev.conllu", blank])
    assert str(info.value) == Errors.E028.format(path=blank)


def test_load_pipeline_refuses_what_is_not_a_pipeline(tmp_path, run):
    with pytest.raises(RecipeError, match="E051.*no config.cfg"):
        load_pipeline(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(run / "model-best", broken)
    (broken / "config.cfg").write_text('[nlp]\nlang = "xx_not_a_language"\n')
    with pytest.raises(RecipeError, match="E051"):
        load_pipeline(broken)
    assert load_pipeline(run / "model-best").pipe_names == ["textcat"]


def test_is_run_dir(run, tmp_path):
    assert is_run_dir(run) and not is_run_dir(run / "model-best") and not is_run_dir(tmp_path / "absent")
    shutil.rmtree(run / "epoch-001")
    assert not is_run_dir(run)


def test_a_relative_dev_path_is_read_from_the_folder_training_ran_in(run):
    nlp = spacy.load(run / "epoch-001")
    meta = srsly.read_json(run / "run.json")
    meta["cwd"] = str(run / "nowhere")
    srsly.write_json(run / "run.json", meta)
    with pytest.raises(RecipeError, match="E020.*data/dev.json"):
        recorded_dev_data(nlp, run)


@pytest.mark.parametrize(
    "scores,weights,expected",
    [
        ({"a": 0.5, "b": 0.25}, {"a": 0.5, "b": 0.5}, 0.375),
        ({"a": 0.5, "b": None}, {"a": 1.0, "b": 1.0}, 0.5),
        ({"a": 0.5}, {"a": 1.0, "missing": 1.0}, 0.5),
        ({"a": 0.5, "b": 0.9}, {"a": 1.0, "b": None}, 0.5),
        ({"a": 0.5, "b": {"x": 1}}, {"a": 2.0, "b": 1.0}, 1.0),
        ({"a": 0.0, "b": 0.5}, {"a": 0.5, "b": 0.5}, 0.25),  # a score of 0 counts as 0
    ],
)
def test_main_score_is_the_weighted_sum_spacy_uses(scores, weights, expected):
    assert main_score(scores, weights) == pytest.approx(expected)
    assert isinstance(main_score(scores, weights), float)


def _ner_tagger():
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    nlp.add_pipe("ner")
    doc = Doc(nlp.vocab, words=["Anna", "sings"])
    doc[0].tag_, doc[1].tag_ = "NNP", "VBZ"
    doc.ents = [Span(doc, 0, 1, "PER")]
    nlp.initialize(lambda: [Example(nlp.make_doc("Anna sings"), doc)])
    return nlp


def _example(nlp, tags=None, ents=None):
    doc = Doc(nlp.vocab, words=["Bob", "sings"])
    if tags:
        doc[0].tag_, doc[1].tag_ = tags
    if ents is not None:
        doc.ents = [Span(doc, 0, 1, label) for label in ents]
    return Example(nlp.make_doc("Bob sings"), doc)


def test_check_data_refuses_data_that_scores_nothing_and_warns_for_one_component():
    nlp = _ner_tagger()
    with pytest.raises(RecipeError, match="E052"):
        check_data(nlp, [_example(nlp)])
    with pytest.warns(UserWarning, match="no .* annotation: 'tagger' is not scored"):
        check_data(nlp, [_example(nlp, ents=["PER"])])
    with pytest.raises(RecipeError, match="E053.*ORG.*'?ner'?.*PER"):
        check_data(nlp, [_example(nlp, tags=("NNP", "VBZ"), ents=["ORG"])])
    check_data(nlp, [_example(nlp, tags=("NNP", "VBZ"), ents=["PER"])])


def test_score_refuses_unknown_labels_before_scoring():
    nlp = _ner_tagger()
    with pytest.raises(RecipeError, match="E053"):
        score(nlp, [_example(nlp, tags=("NNP", "VBZ"), ents=["ORG"])])
    result = score(nlp, [_example(nlp, tags=("NNP", "VBZ"), ents=["PER"])], per_label=False)
    assert result["words"] == 2 and "per_label" not in result
    assert result["score"] == pytest.approx(main_score(result["scores"], nlp.config["training"]["score_weights"]))


def test_thresholds_hold_at_their_bound_and_name_what_is_unknown():
    from recipe_cli.evaluation.scoring import check_thresholds

    scores = {"ents_f": 0.6, "ents_p": 0.5, "speed": 100, "ents_per_type": {}}
    assert check_thresholds(scores, {"ents_f": 0.6}) == []
    assert check_thresholds(scores, {"ents_f": 0.7, "ents_p": 0.5}) == ["ents_f=0.6000 < 0.7"]
    with pytest.raises(RecipeError) as error:
        check_thresholds(scores, {"ents_r": 0.1, "tag_acc": 0.2})
    assert "ents_r, tag_acc" in str(error.value) and "ents_f, ents_p, speed" in str(error.value)


def test_a_failure_while_scoring_names_the_stage_and_the_model(run, data_dir, monkeypatch):
    import recipe_cli.evaluation.scoring as scoring

    def broken(*args, **kwargs):
        raise ZeroDivisionError("inside a component")

    monkeypatch.setattr(scoring, "score", broken)
    with pytest.raises(RecipeError) as error:
        evaluate(run / "model-best", [data_dir / "goemotions-dev.json"])
    assert str(error.value) == f"[E070] Scoring failed for {run / 'model-best'}: ZeroDivisionError: inside a component"


def test_evaluate_reads_the_data_in_the_format_given(run, data_dir, tmp_path):
    renamed = tmp_path / "dev.txt"
    renamed.write_text((data_dir / "goemotions-dev.json").read_text())
    with pytest.raises(RecipeError, match="E021"):
        evaluate(run / "model-best", [renamed])
    result = evaluate(run / "model-best", [renamed], data_format="json")
    assert result["scores"] == evaluate(run / "model-best", [data_dir / "goemotions-dev.json"])["scores"] | {
        "speed": result["scores"]["speed"]
    }


def test_a_failure_while_scoring_an_epoch_names_the_stage_the_epoch_and_the_run(run, monkeypatch):
    import recipe_cli.evaluation.scoring as scoring

    def broken(*args, **kwargs):
        raise ZeroDivisionError("inside a component")

    monkeypatch.setattr(scoring, "score", broken)
    with pytest.raises(RecipeError) as error:
        evaluate_run(run)
    assert str(error.value) == f"[E070] Scoring failed for epoch 1 of {run}: ZeroDivisionError: inside a component"


def test_every_epoch_of_a_run_reads_other_data_in_the_format_given(run, data_dir, tmp_path):
    renamed = tmp_path / "dev.txt"
    renamed.write_text((data_dir / "goemotions-train.json").read_text())
    given = evaluate_run(run, [renamed], data_format="json")
    named = evaluate_run(run, [data_dir / "goemotions-train.json"])
    assert [e["scores"]["cats_score"] for e in given["epochs"]] == [e["scores"]["cats_score"] for e in named["epochs"]]


def _sentences(nlp, path):
    return [len(list(doc.sents)) for doc in read_data(nlp, [path]).docs]


def test_data_is_grouped_as_the_pipelines_dev_corpus_groups_it(data_dir):
    """sents_per_doc of [corpora.dev]; one sentence a document where the pipeline's config has none (a pipeline
    trained elsewhere), or no dev corpus, or no corpora at all."""
    path = data_dir / "ewt-dev.conllu"
    nlp = spacy.blank("en")
    nlp.config["corpora"]["dev"]["sents_per_doc"] = 3
    grouped = _sentences(nlp, path)
    assert grouped[:3] == [3, 3, 3] and sum(grouped) == 150
    for change in ("missing", "null", "no dev", "no corpora"):
        nlp = spacy.blank("en")
        if change == "missing":
            nlp.config["corpora"]["dev"].pop("sents_per_doc", None)
        elif change == "null":
            nlp.config["corpora"]["dev"]["sents_per_doc"] = None
        elif change == "no dev":
            del nlp.config["corpora"]["dev"]
        else:
            del nlp.config["corpora"]
        assert _sentences(nlp, path) == [1] * 150, change


def test_the_recorded_dev_data_keeps_its_list_of_files_and_gold_preproc(run, data_dir):
    nlp = spacy.load(run / "epoch-001")
    assert recorded_dev_data(nlp, run).gold_preproc is False
    nlp.config["corpora"]["dev"]["gold_preproc"] = True
    assert recorded_dev_data(nlp, run).gold_preproc is True
    files = [str(data_dir / "goemotions-dev.json"), str(data_dir / "goemotions-train.json")]
    nlp.config["corpora"]["dev"]["path"] = files
    data = recorded_dev_data(nlp, run)
    each = [len(read_data(nlp, [path]).docs) for path in files]
    assert data.paths == files and len(data.docs) == sum(each) and each[0] < each[1]


def test_a_recorded_dev_corpus_that_cannot_be_made_is_one_error_naming_the_run(run):
    nlp = spacy.load(run / "epoch-001")
    nlp.config["corpora"]["dev"]["sents_per_doc"] = "three"
    with pytest.raises(RecipeError) as info:
        recorded_dev_data(nlp, run)
    why = "its dev corpus cannot be read: corpora.dev.sents_per_doc: at root: 'three' is not <class 'int'>"
    assert str(info.value) == Errors.E051.format(path=run, error=why)


def test_score_gives_the_per_label_tables_unless_told_not_to(run):
    nlp = spacy.load(run / "model-best")
    examples = _dev_examples(nlp, run)
    assert "cats" in score(nlp, examples)["per_label"]
    assert "per_label" not in score(nlp, examples, per_label=False)


def test_docs_carried_to_another_pipelines_vocab_leave_their_user_data_behind(run, data_dir):
    """Readers and users may hang anything on user_data; scoring another epoch's pipeline copies only the
    annotation (a DocBin cannot store what msgpack cannot)."""
    nlp = spacy.load(run / "epoch-001")
    data = read_data(nlp, [data_dir / "goemotions-dev.json"])
    data.docs[0].user_data["handle"] = object()
    other = spacy.load(run / "epoch-002")
    examples = data.examples(other)
    assert examples[0].reference.vocab is other.vocab and examples[0].reference.user_data == {}
    assert [eg.reference.cats for eg in examples] == [doc.cats for doc in data.docs]


def test_docs_already_in_the_pipelines_vocab_are_scored_as_they_are(short_run, data_dir):
    """The pipeline that read the data (and any sharing its vocab) gets the docs themselves, not copies: their
    user_data stays, and one document is as good as many."""
    nlp = spacy.load(short_run / "epoch-001")
    data = read_data(nlp, [data_dir / "goemotions-dev.json"])
    data.docs[0].user_data["handle"] = handle = object()
    examples = data.examples(nlp)
    assert [eg.reference for eg in examples] == data.docs
    assert all(eg.reference is doc for eg, doc in zip(examples, data.docs, strict=True))
    assert examples[0].reference.user_data["handle"] is handle
    (one,) = EvalData(paths=data.paths, docs=data.docs[:1]).examples(nlp)
    assert one.reference is data.docs[0] and one.predicted.text == data.docs[0].text


def test_a_recorded_dev_corpus_its_reader_refuses_is_one_error_naming_the_run(short_run):
    """The reader's own refusal (a ValueError, not a config validation error) is named as it says it."""
    nlp = spacy.load(short_run / "epoch-001")
    nlp.config["corpora"]["dev"]["part"] = "middle"
    with pytest.raises(RecipeError) as info:
        recorded_dev_data(nlp, short_run)
    refusal = Errors.E073.format(options="all, train, heldout", part="middle")
    assert str(info.value) == Errors.E051.format(path=short_run, error=f"its dev corpus cannot be read: {refusal}")


def test_the_dev_evaluation_given_settings_is_nlp_evaluate(short_run, data_dir):
    """Called with nlp.evaluate's own settings (here per_component), the dev evaluation is nlp.evaluate with
    them; given something that is not an Example, it refuses as nlp.evaluate does, naming it."""
    nlp = spacy.load(short_run / "model-best")
    examples = read_data(nlp, [data_dir / "goemotions-dev.json"]).examples(nlp)
    got = DevEvaluation(nlp).evaluate(examples, per_component=True)
    want = nlp.evaluate(examples, per_component=True)
    del got["speed"], want["speed"]  # this evaluation's words per second
    assert got == want and set(got) == {"tokenizer", "textcat"}
    with pytest.raises(TypeError, match=r"The Language\.evaluate method takes a list of Example objects"):
        DevEvaluation(nlp).evaluate([nlp.make_doc("Not an Example")])


def test_the_dev_evaluations_speed_is_words_over_tokenizing_once_and_the_pipeline(short_run, data_dir, monkeypatch):
    """Tokenizing is timed at the first evaluation only; speed is the words over that and the pipeline's time."""
    import recipe_cli.evaluation.scoring as scoring

    clock = iter(range(100, 1000))
    monkeypatch.setattr(scoring, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    nlp = spacy.load(short_run / "model-best")
    examples = read_data(nlp, [data_dir / "goemotions-dev.json"]).examples(nlp)
    words = sum(len(eg.predicted) for eg in examples)
    dev = DevEvaluation(nlp)
    assert dev.evaluate(examples)["speed"] == words / (1 + 1)  # tokenizing 100 → 101, the pipeline 102 → 103
    assert dev.tokenize_seconds == 1
    assert dev.evaluate(examples)["speed"] == words / (1 + 1)  # the pipeline only: 104 → 105


def test_the_dev_evaluation_scores_the_tokenizer_at_its_first_evaluation_only(short_run, data_dir, monkeypatch):
    class Counting:
        def __init__(self, tokenizer):
            self.tokenizer, self.calls = tokenizer, 0

        def __call__(self, text):
            return self.tokenizer(text)

        def score(self, *args, **kwargs):
            self.calls += 1
            return self.tokenizer.score(*args, **kwargs)

    nlp = spacy.load(short_run / "model-best")
    examples = read_data(nlp, [data_dir / "goemotions-dev.json"]).examples(nlp)
    monkeypatch.setattr(nlp, "tokenizer", Counting(nlp.tokenizer))
    dev = DevEvaluation(nlp)
    first, second = dev.evaluate(examples), dev.evaluate(examples)
    assert nlp.tokenizer.calls == 1 and first["token_acc"] == second["token_acc"] == 1.0


def test_gold_preproc_dev_data_is_scored_on_its_own_tokens(short_run):
    """Dev data read with gold_preproc keeps the reference's tokens for the pipeline to predict on; otherwise the
    pipeline's tokenizer splits the text itself."""
    nlp = spacy.load(short_run / "model-best")
    doc = Doc(nlp.vocab, words=["I", "can't", "go"], spaces=[True, True, False])
    doc.cats = dict.fromkeys(nlp.get_pipe("textcat").labels, 0.0)
    own = EvalData(paths=[], docs=[doc]).examples(nlp)
    gold = EvalData(paths=[], docs=[doc], gold_preproc=True).examples(nlp)
    assert [t.text for t in own[0].predicted] == ["I", "ca", "n't", "go"]
    assert [t.text for t in gold[0].predicted] == ["I", "can't", "go"] and gold[0].reference is doc


def test_check_data_names_every_component_left_unscored_and_every_unknown_label():
    nlp = _ner_tagger()
    with pytest.raises(RecipeError) as info:
        check_data(nlp, [_example(nlp)])
    assert str(info.value) == Errors.E052.format(what="tag (tagger), entity (ner)")
    with pytest.warns(UserWarning) as record:
        check_data(nlp, [_example(nlp, ents=["PER"])])
    # The warning points at the code that asked for the check, not at scoring.py.
    assert [str(w.message) for w in record] == [Warnings.W001.format(what="tag", name="tagger")]
    doc = Doc(nlp.vocab, words=["Bob", "flew", "to", "Paris"], tags=["NNP", "VBD", "IN", "NNP"])
    doc.ents = [Span(doc, 0, 1, "ORG"), Span(doc, 3, 4, "LOC")]
    with pytest.raises(RecipeError) as info:
        check_data(nlp, [Example(nlp.make_doc(doc.text), doc)])
    assert str(info.value) == Errors.E053.format(labels="LOC, ORG", name="ner", known="PER")


def test_check_data_warning_points_at_the_caller():
    # The warning points at the code that asked for the check, not at scoring.py.
    nlp = _ner_tagger()
    with pytest.warns(UserWarning) as record:
        check_data(nlp, [_example(nlp, ents=["PER"])])
    assert [w.filename for w in record] == [__file__]


@pytest.mark.parametrize("factory", ["beam_ner", "textcat", "textcat_multilabel"])
def test_check_data_refuses_labels_the_component_does_not_know(factory):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory)
    doc = Doc(nlp.vocab, words=["Anna", "sings"])
    if factory == "beam_ner":
        doc.ents = [Span(doc, 0, 1, "PER")]
    else:
        doc.cats = {"joy": 1.0, "anger": 0.0}
    nlp.initialize(lambda: [Example(nlp.make_doc(doc.text), doc)])
    other = Doc(nlp.vocab, words=["Bob", "shouts"])
    if factory == "beam_ner":
        other.ents = [Span(other, 0, 1, "ORG")]
        expected = Errors.E053.format(labels="ORG", name=factory, known="PER")
    else:
        other.cats = {"joy": 0.0, "anger": 0.0, "fear": 1.0}
        expected = Errors.E053.format(labels="fear", name=factory, known="anger, joy")
    with pytest.raises(RecipeError) as info:
        check_data(nlp, [Example(nlp.make_doc(other.text), other)])
    assert str(info.value) == expected


def test_a_relative_label_config_is_read_from_the_folder_training_ran_in(run, data_dir, tmp_path, monkeypatch):
    """A run's dev corpus names its Label Studio labeling config as typed: from elsewhere, it is found where the
    run started, as the dev data is."""
    started = tmp_path / "started"
    (started / "ls").mkdir(parents=True)
    shutil.copy(data_dir / "labelstudio-emotion.csv", started / "ls" / "emotion.csv")
    shutil.copy(data_dir / "labelstudio-emotion.xml", started / "ls" / "label_config.xml")
    meta = srsly.read_json(run / "run.json")
    meta["cwd"] = str(started)
    srsly.write_json(run / "run.json", meta)
    config = spacy.util.load_config(run / "epoch-001" / "config.cfg")
    config["corpora"]["dev"].update(path="ls/emotion.csv", label_config="ls/label_config.xml", part="all")
    config.to_disk(run / "epoch-001" / "config.cfg")
    nlp = spacy.load(run / "epoch-001")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    docs = recorded_dev_data(nlp, run).docs
    assert sorted(label for doc in docs for label, value in doc.cats.items() if value) == [
        "anger", "gratitude", "love", "neutral", "neutral", "neutral"
    ]  # fmt: skip
