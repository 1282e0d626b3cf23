"""Gold parses the parser cannot follow: dropped before training, on every pass, with a warning; none left is an error."""

import contextlib
import io
import json
import multiprocessing

import pytest
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import fix_random_seed
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.data.corpus import RecipeCorpus
from recipe_cli.data.formats import Source
from recipe_cli.data.oracle import ParseCheck, without_parse
from recipe_cli.training.setup import keep_builtin_moves

runner = CliRunner()
FIXTURE = "ewt-quotes-v2.json"
# The documents of the fixture given a head cycle (every fourth; see tests/data/README.md).
CYCLIC = [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]


def _corpus(path):
    return RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0)


def _parse(doc):
    return [(t.head.i, t.dep_) for t in doc]


def test_documents_the_parser_cannot_follow_lose_only_their_parse(nlp, data_dir):
    nlp.add_pipe("parser")
    path = data_dir / FIXTURE
    plain = list(_corpus(path)(nlp))
    corpus = _corpus(path)
    corpus.parse_check = check = ParseCheck.for_pipeline(nlp, ["parser"])
    checked = list(corpus(nlp))

    assert list(check.dropped.values()) == [Source(path, i) for i in CYCLIC]
    assert check.followed == 30
    assert len(checked) == len(plain) == 40
    for i, (before, after) in enumerate(zip(plain, checked, strict=True), start=1):
        ref, old = after.reference, before.reference
        assert [t.text for t in ref] == [t.text for t in old]
        assert [t.tag_ for t in ref] == [t.tag_ for t in old] and ref.has_annotation("TAG")
        assert [t.is_sent_start for t in ref] == [t.is_sent_start for t in old]
        if i in CYCLIC:
            assert not ref.has_annotation("DEP") and not any(t.has_head() for t in ref)
            assert check.moves.has_gold(after) is False
        else:
            assert _parse(ref) == _parse(old) and ref.has_annotation("DEP")
    # The PTB quotes are split by the tokenizer, and those documents keep their parse.
    assert any(t.text == "``" for t in plain[0].reference) and len(plain[0].predicted) > len(plain[0].reference)

    # Later passes (a streamed corpus reads its files again) drop the same documents, without running the oracle.
    check.moves = None
    again = list(corpus(nlp))
    assert [i for i, eg in enumerate(again, start=1) if not eg.reference.has_annotation("DEP")] == CYCLIC
    assert check.warning().endswith(f"{path}: documents 4, 8, 12, 16, 20 and 5 more")
    assert check.warning().startswith("[W009] the parser cannot follow the gold parse of 10 training documents")


def test_a_corpus_of_examples_is_checked_example_by_example(nlp, data_dir):
    examples = list(_corpus(data_dir / FIXTURE)(nlp))
    nlp.add_pipe("parser")
    check = ParseCheck.for_pipeline(nlp, ["parser"])
    wrapped = check.wrap(lambda nlp: iter(examples), "corpus.spacy")
    kept = [eg.reference.has_annotation("DEP") for eg in wrapped(nlp)]
    assert [i for i, has in enumerate(kept, start=1) if not has] == CYCLIC
    assert "corpus.spacy: documents 4, 8" in check.warning()


def test_no_check_without_a_trained_parser(nlp):
    nlp.add_pipe("tagger")
    assert ParseCheck.for_pipeline(nlp, ["tagger"]) is None


def test_without_parse_keeps_the_rest(nlp):
    doc = Doc(nlp.vocab, words=["Paris", "is", "nice", ".", "Yes", "."], spaces=[True, True, False, True, False, False],
              heads=[1, 1, 1, 1, 4, 4], deps=["nsubj", "ROOT", "acomp", "punct", "ROOT", "punct"],
              tags=["NNP", "VBZ", "JJ", ".", "UH", "."], pos=["PROPN", "AUX", "ADJ", "PUNCT", "INTJ", "PUNCT"],
              lemmas=["Paris", "be", "nice", ".", "yes", "."], morphs=["Number=Sing"] * 6,
              ents=["B-GPE", "O", "O", "O", None, None])  # fmt: skip
    doc.cats = {"GEO": 1.0}
    doc.spans["sc"] = [Span(doc, 0, 3, "CLAIM")]
    copy = without_parse(doc)
    assert copy.text == doc.text and not copy.has_annotation("DEP")
    assert [t.is_sent_start for t in copy] == [True, False, False, False, True, False]
    for attr in ("tag_", "pos_", "lemma_", "ent_iob_", "ent_type_"):
        assert [getattr(t, attr) for t in copy] == [getattr(t, attr) for t in doc], attr
    assert [str(t.morph) for t in copy] == [str(t.morph) for t in doc]
    assert copy.cats == doc.cats and [(s.text, s.label_) for s in copy.spans["sc"]] == [("Paris is nice", "CLAIM")]


def test_dev_data_the_parser_cannot_follow_is_scored(nlp, data_dir):
    """Evaluation scores against the gold heads; it never runs the oracle, so dev data is left as it is."""
    nlp.add_pipe("tagger")
    nlp.add_pipe("parser")
    examples = list(_corpus(data_dir / FIXTURE)(nlp))
    nlp.initialize(lambda: [eg for i, eg in enumerate(examples, start=1) if i not in CYCLIC])
    scores = nlp.evaluate(examples)
    assert 0 <= scores["dep_uas"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize("shuffle_buffer", [0, 8])
def test_train_where_spacy_stops_with_e1031(tmp_path, data_dir, shuffle_buffer):
    """`spacy train` on this file (converted with `spacy convert`) stops with E1031 in its first epoch; streamed
    from disk (a shuffle buffer smaller than the corpus), the epoch reads the file again and drops the same parses."""
    out = tmp_path / "out"
    path = data_dir / FIXTURE
    args = ["tagger,parser", path, "--dev", path, "-o", out, "--training.max_epochs", "1", "--no-plot"]
    result = runner.invoke(train_app, [str(a) for a in args] + ["--training.shuffle_buffer", str(shuffle_buffer)])
    assert result.exit_code == 0, result.output
    assert ("streamed from disk" in result.output) == (shuffle_buffer > 0)
    assert (
        "! Data: [W009] the parser cannot follow the gold parse of 10 training documents (no sequence of its moves builds "
        "their trees; check the heads): they train without heads and labels, keeping the rest: "
        f"{path}: documents 4, 8, 12, 16, 20 and 5 more"
    ) in result.output
    assert (out / "model-best").is_dir()


def test_no_parse_left_is_a_one_line_error(tmp_path, data_dir):
    docs = json.loads((data_dir / FIXTURE).read_text(encoding="utf8"))
    path = tmp_path / "cycles.json"
    path.write_text(json.dumps([doc for i, doc in enumerate(docs, start=1) if i in CYCLIC]), encoding="utf8")
    result = runner.invoke(train_app, ["tagger,parser", str(path), "--dev", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert (
        f"[E039] {path}: the parser cannot follow the gold parse of any of its 10 parsed documents (no sequence of its "
        f"moves builds their trees; check their heads): {path}: documents 1, 2, 3, 4, 5 and 5 more."
    ) in result.output
    assert not (tmp_path / "out").exists()


def test_the_initialised_parser_follows_every_checked_example(nlp, data_dir):
    """The first pass drops the head cycles; the initialised parser's oracle, with every label, follows the rest."""
    parser = nlp.add_pipe("parser", config={"min_action_freq": 1})
    corpus = _corpus(data_dir / FIXTURE)
    corpus.parse_check = ParseCheck.for_pipeline(nlp, ["parser"])
    examples = list(corpus(nlp))
    nlp.initialize(lambda: examples)
    assert parser.moves.n_moves > 5
    for eg in examples:
        states, golds, _ = parser.moves.init_gold_batch([eg])
        for state, gold in zip(states, golds, strict=True):
            parser.moves.get_oracle_sequence_from_state(state, gold)
            assert state.is_final()
    unchecked = list(_corpus(data_dir / FIXTURE)(nlp))
    assert [i for i, eg in enumerate(unchecked, start=1) if not ParseCheck(parser.moves).follows(eg)] == CYCLIC


# spaCy's v2 example training file (extra/example_data/training-data.json in spaCy's repository; see
# tests/data/README.md): one document, two sentences, a tree that needs the shift move.
SPACY_EXAMPLE = "spacy-training-data.json"


@pytest.mark.parametrize("components", ["tagger,parser", "parser"])
def test_spacys_example_file_trains_to_the_end(tmp_path, data_dir, components):
    """spaCy keeps a move only if the data uses it min_action_freq (30) times, and adds back the arcs and the break
    with the built-in labels but not shift and reduce: on this file the parser was left without shift and stopped
    at epoch 1, step 1 with E1031, after a dry run had called the data valid. Dry run and training agree now, and
    the document keeps its parse."""
    path = data_dir / SPACY_EXAMPLE
    args = [components, str(path), "--dev", str(path), "--training.max_epochs", "2", "--no-plot"]
    dry = runner.invoke(train_app, [*args, "-o", str(tmp_path / "dry"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Dry run: config and data are valid" in dry.output and "W009" not in dry.output
    result = runner.invoke(train_app, [*args, "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "W009" not in result.output and "relations (22): punct 12, pobj 7, prep 6" in result.output
    assert "Best epoch" in result.output and (tmp_path / "out" / "model-last").is_dir()
    rows = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]


def _spacy_example(nlp, data_dir):
    corpus = RecipeCorpus(data_dir / SPACY_EXAMPLE, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0)
    return list(corpus(nlp))


def _update(nlp, examples):
    with contextlib.redirect_stdout(io.StringIO()):  # spaCy prints the moves' costs before E1031
        nlp.update(examples)


def test_the_check_asks_the_parser_it_is_given(nlp, data_dir):
    """Initialised as spaCy initialises it, the parser has no shift move on this file: its oracle, and so the check,
    cannot follow the tree, and neither can training. Given the built-in moves first, all three can."""
    fix_random_seed(0)
    parser = nlp.add_pipe("parser")
    examples = _spacy_example(nlp, data_dir)
    nlp.initialize(lambda: examples)
    assert sorted(parser.moves.get_class_name(i) for i in range(parser.moves.n_moves)) == [
        "B-ROOT", "D", "L-dep", "R-dep"
    ]  # fmt: skip
    assert ParseCheck.for_pipeline(nlp, ["parser"]).follows(examples[0]) is False
    # An update meets the dead end where the untrained model's moves lead there (most updates, not every one: the
    # oracle cut's length and the predicted moves are random), so five updates, from the fixed seed, must meet it.
    with pytest.raises(ValueError, match="E1031"):
        for _ in range(5):
            _update(nlp, examples)

    nlp.remove_pipe("parser")
    parser = nlp.add_pipe("parser")
    keep_builtin_moves(nlp, ["parser"])
    nlp.initialize(lambda: examples)
    assert sorted(parser.moves.get_class_name(i) for i in range(parser.moves.n_moves)) == [
        "B-ROOT", "D", "L-dep", "R-dep", "S"
    ]  # fmt: skip
    assert ParseCheck.for_pipeline(nlp, ["parser"]).follows(examples[0]) is True
    for _ in range(3):
        _update(nlp, examples)


def _check_in_child(words, spaces, heads, deps, answer):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("parser")
    reference = Doc(nlp.vocab, words=words, spaces=spaces, heads=heads, deps=deps)
    example = Example(nlp.make_doc(reference.text), reference)
    answer.put(ParseCheck.for_pipeline(nlp, ["parser"]).follows(example))


def test_a_cycle_spacy_never_finishes_projectivizing_is_dropped():
    """On this head cycle (runs → . → don't → runs) spaCy's projectivize keeps lifting the arc round the cycle and
    never returns: in training, and in a check that asked spaCy first. The check finds the cycle itself."""
    args = (["U.S.", "ice-cream", "U.S.", ".", "ice-cream", "runs", "don't"], [False, False, True, True, True, True, False],
            [0, 4, 2, 6, 6, 3, 5], ["ROOT", "dobj", "ROOT", "cc", "nsubj", "det", "dep"])  # fmt: skip
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    child = context.Process(target=_check_in_child, args=(*args, answer))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the check did not return within 30 s")
    assert answer.get(timeout=5) is False


def test_a_base_parser_that_can_build_no_tree_is_refused_before_training(tmp_path, data_dir):
    """A base pipeline whose parser spaCy initialised on trees without a left arc has no shift move, and so builds
    no tree at all. Fine-tuned on spaCy's example file, the check asks that parser's oracle and refuses the data in
    one line before anything is trained, where the check that asked another transition system let it through to
    E1031 at the first update."""
    import spacy

    base = spacy.blank("en")
    base.add_pipe("parser")
    words = ["Go", "home", "now", "today", "."]
    right = {"words": words, "heads": [0, 0, 0, 0, 0], "deps": ["ROOT", "advmod", "advmod", "npadvmod", "punct"]}
    base.initialize(lambda: [Example.from_dict(base.make_doc(" ".join(words)), right)] * 10)
    moves = base.get_pipe("parser").moves
    assert sorted(moves.get_class_name(i) for i in range(moves.n_moves)) == ["B-ROOT", "D", "L-dep", "R-dep"]
    base.to_disk(tmp_path / "base")

    path = data_dir / SPACY_EXAMPLE
    args = ["parser", path, "--dev", path, "--base-model", tmp_path / "base", "-o", tmp_path / "out", "--no-plot"]
    result = runner.invoke(train_app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert (
        f"[E039] {path}: the parser cannot follow the gold parse of any of its 1 parsed documents (no sequence of its "
        f"moves builds their trees; check their heads): {path}: document 1."
    ) in result.output
    assert not (tmp_path / "out").exists()


def test_data_the_initialised_parser_refuses_leaves_no_folder(tmp_path, data_dir, monkeypatch):
    """The check after initialisation refuses data as the first pass does: one line, exit 1, and the output folder
    the run created (its run.json written before the data was read) goes again."""
    import recipe_cli.training.setup as setup
    from recipe_cli.errors import Errors, RecipeError

    path = data_dir / SPACY_EXAMPLE

    def refused(data):
        raise RecipeError(Errors.E039.format(path=path, n=1, examples=f"{path}: document 1"))

    monkeypatch.setattr(setup, "check_parses", refused)
    args = ["parser", path, "--dev", path, "-o", tmp_path / "out", "--no-plot"]
    result = runner.invoke(train_app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    assert "[E039]" in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("shuffle_buffer", [0, 8])
def test_the_second_check_asks_the_initialised_parser(tmp_path, data_dir, shuffle_buffer):
    """The first pass, before the parser has moves, drops only the head cycles; once initialised (here as spaCy
    initialises it, every move rarer than min_action_freq dropped, shift and reduce too) its oracle is asked again,
    on the examples kept in memory or on a pass over the file, and the same documents go as training would refuse."""
    from spacy.util import load_model_from_config

    from recipe_cli.config.build import recipe_config
    from recipe_cli.errors import RecipeError
    from recipe_cli.pipeline import trained_components
    from recipe_cli.training.setup import check_parses, read_data

    config = recipe_config(["parser"])
    config["paths"]["train"] = config["paths"]["dev"] = str(data_dir / FIXTURE)
    config["components"]["parser"]["min_action_freq"] = 1000
    config["training"]["batcher"]["size"]["stop"] = 16
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    data = read_data(nlp, trained_components(nlp), shuffle_buffer)
    assert data.streamed == (shuffle_buffer > 0)
    assert [data.parse_check.dropped[i].index for i in sorted(data.parse_check.dropped)] == CYCLIC
    nlp.initialize(data.train)
    with pytest.raises(RecipeError) as e:
        check_parses(data)
    assert str(e.value) == (
        f"[E039] {data_dir / FIXTURE}: the parser cannot follow the gold parse of any of its 40 parsed documents (no "
        f"sequence of its moves builds their trees; check their heads): {data_dir / FIXTURE}: documents 1, 2, 3, 4, 5 "
        "and 35 more."
    )
