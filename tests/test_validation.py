"""Data validation before training: the summary, the warnings, --dry-run, and a catalogue of malformed files."""

import pytest
from spacy.tokens import Doc
from spacy.training import Example
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.data.formats import FORMATS, detect_format, read_docs
from recipe_cli.data.summary import LONG_DOC_TOKENS, data_warnings, summarize
from recipe_cli.errors import RecipeError

runner = CliRunner()


def _examples(docs):
    return [Example(doc, doc) for doc in docs]


def test_summary_counts_the_wnut17_slice(data_dir, nlp):
    summary = summarize(_examples(read_docs(data_dir / "wnut17-dev.conll", nlp)))
    lines = [line for line in (data_dir / "wnut17-dev.conll").read_text().splitlines() if line.strip()]
    assert (summary.docs, summary.sentences, summary.tokens) == (150, 150, len(lines))
    assert sum(summary.labels["entities"].values()) == sum(line.split()[-1].startswith("B-") for line in lines)
    assert set(summary.labels) == {"entities"}


def test_summary_of_conllu_has_tags_pos_and_relations(data_dir, nlp):
    summary = summarize(_examples(read_docs(data_dir / "ewt-dev.conllu", nlp, sents_per_doc=10)))
    assert (summary.docs, summary.sentences) == (15, 150)
    assert {"tags", "POS", "relations"} <= set(summary.labels)
    assert summary.labels["relations"]["ROOT"] == 150


def test_warnings(nlp):
    def doc(words, ents=None, cats=None):
        d = Doc(nlp.vocab, words=words, ents=ents)
        d.cats = cats or {}
        return d

    train = summarize(_examples([doc(["Paris", "!"], ["B-LOC", "O"]), doc(["Anna"], ["B-PER"])]))
    dev = summarize(_examples([doc(["Acme", "Paris"], ["B-ORG", "B-LOC"]), doc(["x"] * (LONG_DOC_TOKENS + 1))]))
    found = data_warnings(train, dev, ["ner"])
    assert (
        "[W005] dev entities never seen in training: ORG (1); nothing trained on this data predicts them, so each "
        "counts as a miss in the dev score"
    ) in found
    assert any(f"1 dev documents are longer than {LONG_DOC_TOKENS:,} tokens" in w for w in found)
    assert "[W008] entity labels seen fewer than 3 times in training: LOC, PER" in found
    one_cat = summarize(_examples([doc(["good"], cats={"POS": 1.0}), doc(["fine"], cats={"POS": 1.0})]))
    assert any("only one category" in w for w in data_warnings(one_cat, one_cat, ["textcat"]))
    assert data_warnings(one_cat, one_cat, ["ner"]) == []


def test_a_yes_no_category_counts_its_answers(data_dir, nlp):
    """A binary label (Prodigy's accept/reject) has two answers to choose between: they are counted, not warned of."""
    summary = summarize(_examples(read_docs(data_dir / "prodigy-docs-issues.jsonl", nlp)))
    assert summary.category_labels == {"DOCUMENTATION"}
    assert summary.yes_no("DOCUMENTATION") == "DOCUMENTATION: 6 positive, 12 negative"
    assert not any("category" in w for w in data_warnings(summary, summary, ["textcat_multilabel"]))
    accepted = [d for d in read_docs(data_dir / "prodigy-docs-issues.jsonl", nlp) if d.cats["DOCUMENTATION"]]
    only_yes = summarize(_examples(accepted))
    (warning,) = data_warnings(only_yes, only_yes, ["textcat"])
    assert "(DOCUMENTATION: 6 positive, 0 negative): nothing to choose between" in warning


@pytest.mark.slow
def test_dry_run_counts_the_answers_of_a_prodigy_binary_export(tmp_path, data_dir):
    out = tmp_path / "out"
    data = data_dir / "prodigy-docs-issues.jsonl"
    result = runner.invoke(train_app, ["textcat_multilabel", str(data), "-o", str(out), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "categories (1, yes/no): DOCUMENTATION:" in result.output and " negative" in result.output
    assert "nothing to choose between" not in result.output and not out.exists()


@pytest.mark.slow
def test_dry_run_writes_nothing(tmp_path, data_dir):
    out = tmp_path / "out"
    args = ["ner", data_dir / "wnut17-train.conll", "--dev", data_dir / "wnut17-dev.conll", "-o", out, "--dry-run"]
    result = runner.invoke(train_app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "400 documents, 400 sentences" in result.output
    assert "entities (6): person" in result.output
    assert "Dry run" in result.output
    assert not out.exists()


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf8")
    return path


# name, content, component, what the one-line error must say
CATALOGUE = [
    ("empty.iob", "", "ner", "file is empty"),
    ("blank.conllu", "\n\n", "tagger", "holds no examples"),
    ("latin1.iob", "Zürich B-LOC\n".encode("latin-1"), "ner", "not valid UTF-8 text"),
    ("notag.iob", "Paris B-LOC\nis\n", "ner", "line 2: expected a token and a tag"),
    ("badtag.iob", "Paris X-LOC\n", "ner", "line 1: unknown tag 'X-LOC'"),
    ("badtag2.bio", "Paris B-\n", "ner", "line 1: unknown tag 'B-'"),
    ("noents.conll", "Paris O\nis O\n\nNice O\n\nRome O\n", "ner", "no entity annotation for the 'ner' component"),
    ("cols.conllu", "1\tParis\tParis\n", "tagger", "line 1: expected 10 tab-separated columns"),
    ("head.conllu", "1\ta\ta\tX\tX\t_\t5\tdep\t_\t_\n", "parser", "line 1: head 5 outside the sentence"),
    ("order.conllu", "2\ta\ta\tX\tX\t_\t0\troot\t_\t_\n", "tagger", "line 1: token id 2 out of sequence"),
    ("nan.conllu", "x\ta\ta\tX\tX\t_\t0\troot\t_\t_\n", "tagger", "line 1: 'x' is not a number"),
    ("notags.conllu", "1\ta\ta\t_\t_\t_\t0\troot\t_\t_\n\n1\tb\tb\t_\t_\t_\t0\troot\t_\t_\n", "tagger", "no tag annotation for the 'tagger' component"),
    ("syntax.json", '[["ok", {}],\n {"text": 1]', "ner", "invalid JSON: line 2, column"),
    ("dict.json", '{"text": "x"}', "ner", "top level is a dict"),
    ("emptylist.json", "[]", "ner", "holds no examples"),
    ("layout.json", '[{"id": 0}]', "ner", "unsupported JSON layout"),
    ("offsets.json", '[["Apple buys", {"entities": [[0, 3, "ORG"]]}]]', "ner", "record 1: entity [0, 3, 'ORG'] ('App') does not fall on token boundaries"),
    ("overlap.json", '[["New York City", {"entities": [[0, 8, "LOC"], [4, 13, "LOC"]]}]]', "ner", "record 1: entity [4, 13, 'LOC'] ('York City') overlaps another entity"),
    ("notext.json", '[["ok", {"cats": {"A": 1.0}}], ["", {"cats": {}}]]', "textcat", "record 2: record without text"),
    ("nocats.json", '[["ok", {}], ["fine", {}]]', "textcat", "no category (cats) annotation"),
    ("v2doc.json", '[{"id": 0, "paragraphs": [{"sentences": [{"tokens": [{"orth": "a", "ner": "Q-X"}]}]}]}, {"id": 1}]', "ner", "record"),
    ("line.jsonl", '{"text": "ok"}\n{"text": "x",\n', "ner", "line 2: invalid JSON at column"),
    ("notext.jsonl", '{"text": "Paris"}\n\n{"entities": []}\n', "ner", "line 3: record without text"),
    ("tokens.jsonl", '{"text": "a b", "tokens": [{"text": "a", "ws": false}, {"text": "b"}]}\n', "ner", "line 1: the tokens do not spell out the text"),
    ("header.tsv", "sentence\tfoo\nhi\tx\n", "textcat", "line 1: the header must name a text column"),
    ("columns.tsv", "text\tlabel\nhi\tx\nho\n", "textcat", "line 3: expected 2 columns as in the header, got 1"),
    ("nolabel.csv", 'text,label\n"hi",\n', "textcat", "line 2: row without a label"),
    ("docbin.spacy", "not a docbin", "ner", "not a spaCy DocBin"),
    ("data.txt", "hello", "ner", "cannot tell the data format"),
    ("doccano.jsonl", '{"id": 1, "text": "Jane Smith", "label": [[1, 4, "PER"]]}\n', "ner", "line 1: entity [1, 4, 'PER'] ('ane') cuts a token ('Jane')"),
    ("labelstudio.csv", 'text,emotion,annotator,annotation_id\nhi,"[""a"", ""b""",1,1\n', "textcat", "line 2: label '[\"a\", \"b\"' is a list or a JSON fragment"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,component,message", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_malformed_file_catalogue(tmp_path, name, content, component, message):
    """Each malformed file: exit 1, one line naming the file (and line or record), no output folder."""
    path = _write(tmp_path / name, content)
    out = tmp_path / "out"
    result = runner.invoke(train_app, [component, str(path), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output
    assert name in result.output
    assert message in result.output
    assert not out.exists()


def test_catalogue_meets_every_reader(tmp_path):
    """Each format's reader is given malformed files here, and so is the detection of a file's format."""
    detected = set()
    for name, content, *_ in CATALOGUE:
        try:
            detected.add(detect_format(_write(tmp_path / name, content)))
        except RecipeError:
            detected.add(None)
    assert detected == set(FORMATS) | {None}
