"""doccano's and Label Studio's exports, read as the tools write them, and the annotators' span slips they hold.

The doccano fixtures (tests/data/doccano-*) are written with doccano 1.8.4's own export calls; the Label Studio
fixtures (tests/data/labelstudio-*) by scripts/make_annotation_fixtures.py (see tests/data/README.md). Other
shapes are built here, each as small as the case needs."""

import json
import warnings
from collections import Counter

import pytest
from spacy.training import Example
from typer.testing import CliRunner

from recipe_cli.cli.train import app
from recipe_cli.cli.util import cli_overrides
from recipe_cli.data.formats import detect_format, read_docs
from recipe_cli.data.formats.doccano import is_fasttext
from recipe_cli.data.summary import summarize
from recipe_cli.errors import RecipeError

runner = CliRunner()


def _read(path, nlp, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp, **kwargs))
    return docs, [str(w.message) for w in caught]


def _ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def _chosen(doc):
    return sorted(label for label, value in doc.cats.items() if value == 1.0)


def _summary(docs):
    return summarize(Example(doc.copy(), doc) for doc in docs)


def _write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf8")
    return path


# doccano


def test_doccano_sequence_labelling_jsonl(data_dir, nlp):
    path = data_dir / "doccano-ner.jsonl"
    assert detect_format(path) == "doccano"
    docs, caught = _read(path, nlp)
    records = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]
    assert len(docs) == len(records) == 9 and not caught
    for doc, record in zip(docs, records, strict=True):
        assert doc.text == record["text"]
        # Every span as exported, but record 2's first, which took the space after it: trimmed.
        expected = [(s, e - (doc.text[s:e] != doc.text[s:e].rstrip()), label) for s, e, label in record["label"]]
        assert _ents(doc) == expected
        assert doc.has_annotation("ENT_IOB") and not doc.cats
    assert docs[1].ents[0].text == "Rick and Morty"
    assert _summary(docs).spans_changed == Counter(trimmed=1)
    assert _summary(docs).labels["entities"] == Counter(
        location=4, person=5, **{"creative-work": 1}, product=1, group=1
    )


def test_doccano_relation_project_reads_entities_and_counts_relations(data_dir, nlp):
    path = data_dir / "doccano-relations.jsonl"
    assert detect_format(path) == "doccano"
    docs, caught = _read(path, nlp)
    records = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]
    for doc, record in zip(docs, records, strict=True):
        assert _ents(doc) == [(e["start_offset"], e["end_offset"], e["label"]) for e in record["entities"]]
    assert caught == [
        f"[W010] {path}: 2 relation(s) not read: recipe-train trains entities and categories, not relations."
    ]


@pytest.mark.parametrize("name", ["doccano-emotions.jsonl", "doccano-emotions.csv", "doccano-emotions.txt"])
def test_doccano_text_classification(data_dir, nlp, name):
    path = data_dir / name
    assert detect_format(path) == "doccano"
    docs, _ = _read(path, nlp)
    assert [_chosen(doc) for doc in docs] == [
        ["neutral"], ["gratitude", "love"], ["anger"], ["neutral"], ["love"], ["neutral"], ["neutral"], []
    ]  # fmt: skip
    assert set(docs[0].cats) == {"anger", "gratitude", "love", "neutral"}
    assert docs[-1].cats == {}  # nobody labelled it: missing, not "none of these"
    assert docs[1].text.startswith("Thank you for your vote of confidence, but")
    if name.endswith(".txt"):  # a quoted fastText record over two lines, its trailing space and comments dropped
        assert docs[2].text.endswith("Go out side son.\nsecond line, quoted")
    summary = _summary(docs)
    assert summary.several_categories_at == 1 and not summary.labels.get("entities")


def test_doccano_examples_from_the_issue(tmp_path, nlp):
    """The two records once read silently wrong: a list of categories, and sequence labelling triples."""
    cls = _write(tmp_path, "cls.jsonl", '{"id": 1, "text": "I love this movie", "label": ["positive"]}\n'
                 '{"id": 2, "text": "I hate it", "label": ["negative"]}\n')  # fmt: skip
    docs, _ = _read(cls, nlp)
    assert [doc.cats for doc in docs] == [{"negative": 0.0, "positive": 1.0}, {"negative": 1.0, "positive": 0.0}]
    ner = _write(tmp_path, "ner.jsonl", '{"text": "Alice lives in Paris", "label": [[0, 5, "PER"], [15, 20, "LOC"]]}\n')
    (doc,), _ = _read(ner, nlp)
    assert _ents(doc) == [(0, 5, "PER"), (15, 20, "LOC")] and doc.cats == {}


def test_doccano_older_labels_key_json_list_and_intent_detection(tmp_path, nlp):
    old = _write(tmp_path, "old.jsonl", '{"id": 1, "text": "Alice lives in Paris", "labels": [[0, 5, "PER"]]}\n')
    assert _ents(_read(old, nlp)[0][0]) == [(0, 5, "PER")]
    listed = _write(
        tmp_path, "cls.json", [{"id": 1, "text": "a b", "label": ["X"]}, {"id": 2, "text": "c", "label": ["Y"]}]
    )
    assert detect_format(listed) == "doccano"
    assert [_chosen(d) for d in _read(listed, nlp)[0]] == [["X"], ["Y"]]
    intent = _write(
        tmp_path,
        "intent.jsonl",
        '{"text": "book a flight to Paris", "cats": ["book"], "entities": [[17, 22, "LOC"]]}\n',
    )
    (doc,), _ = _read(intent, nlp)
    assert _ents(doc) == [(17, 22, "LOC")] and doc.cats == {"book": 1.0}


def test_doccano_fasttext_export_whatever_its_first_record(data_dir, tmp_path, nlp):
    """The first record decides nothing: one quoted by the CSV writer (its text holds a comma) is still a fastText
    line, and one nobody labelled (a space, then the text) still starts a fastText file."""
    lines = (data_dir / "doccano-emotions.txt").read_text(encoding="utf8").splitlines(keepends=True)
    whole = [(doc.text, doc.cats) for doc in _read(data_dir / "doccano-emotions.txt", nlp)[0]]
    quoted = _write(tmp_path, "quoted.txt", "".join(lines[1:]))
    assert lines[1].startswith('"__label__gratitude') and detect_format(quoted) == "doccano"
    assert [(doc.text, doc.cats) for doc in _read(quoted, nlp)[0]] == whole[1:]
    unlabelled = _write(tmp_path, "unlabelled.txt", "".join([lines[-1], *lines[:-1]]))
    assert lines[-1].startswith(" [NAME] is such")
    docs, _ = _read(unlabelled, nlp, format="doccano")
    assert [(doc.text, doc.cats) for doc in docs] == [whole[-1], *whole[:-1]]


def test_fasttext_lines_as_other_tools_write_them(tmp_path, nlp):
    """fastText's own files quote nothing: a comma is part of the text."""
    content = "__label__baking How to keep cookies soft, chewy?\n__label__equipment __label__cast-iron Rust, again\n"
    docs, _ = _read(_write(tmp_path, "cooking.txt", content), nlp)
    assert [(doc.text, _chosen(doc)) for doc in docs] == [
        ("How to keep cookies soft, chewy?", ["baking"]), ("Rust, again", ["cast-iron", "equipment"])
    ]  # fmt: skip
    # Named .tsv and read with --format doccano, doccano's quoting is still undone.
    renamed = _write(tmp_path, "export.tsv", '"__label__baking He said ""soft"", then left"\n__label__equipment Pans\n')
    docs, _ = _read(renamed, nlp, format="doccano")
    assert [(doc.text, _chosen(doc)) for doc in docs] == [
        ('He said "soft", then left', ["baking"]),
        ("Pans", ["equipment"]),
    ]


def test_is_fasttext_strips_only_the_quotes_of_the_csv_writer():
    assert is_fasttext("__label__a text") and is_fasttext('"__label__a text, quoted"')
    assert not is_fasttext(" __label__a text") and not is_fasttext("X__label__a text")


def test_doccano_older_text_key_and_spans_with_categories(tmp_path, nlp):
    """Older doccano releases export the text as 'data'; spans under 'label' do not hide the record's 'cats'."""
    old = _write(
        tmp_path, "old.jsonl", '{"id": 1, "data": "Alice lives in Paris", "label": [[0, 5, "PER"]], "user": 1}\n'
    )
    (doc,), _ = _read(old, nlp)
    assert doc.text == "Alice lives in Paris" and _ents(doc) == [(0, 5, "PER")]
    both = _write(
        tmp_path, "both.jsonl", '{"text": "book a flight to Paris", "label": [[17, 22, "LOC"]], "cats": ["book"]}\n'
    )
    (doc,), _ = _read(both, nlp)
    assert _ents(doc) == [(17, 22, "LOC")] and doc.cats == {"book": 1.0}


def test_plain_jsonl_and_tables_are_not_taken_for_doccano(tmp_path, data_dir):
    assert detect_format(data_dir / "prodigy-fashion-brands.jsonl") == "jsonl"
    assert detect_format(_write(tmp_path, "a.jsonl", '{"text": "a", "label": "X"}\n')) == "jsonl"
    assert detect_format(_write(tmp_path, "t.csv", "id,text,label\n1,a,X\n")) == "table"
    assert detect_format(data_dir / "goemotions-dev.json") == "json"


# Label Studio


def _result(start, end, label, text):
    return {"type": "labels", "from_name": "label", "to_name": "text",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}  # fmt: skip


def _task(task_id, text, *annotations, predictions=()):
    return {"id": task_id, "data": {"text": text}, "annotations": list(annotations), "predictions": list(predictions)}


def _annotation(annotation_id, result, updated, cancelled=False):
    return {"id": annotation_id, "result": result, "was_cancelled": cancelled, "updated_at": updated,
            "created_at": "2024-01-01T00:00:00.000000Z"}  # fmt: skip


TEXT = "Jane Smith went to Paris"


def test_labelstudio_json_cancelled_repeated_and_predictions(tmp_path, nlp):
    tasks = [
        _task(1, TEXT, _annotation(1, [_result(0, 10, "PER", TEXT), _result(19, 24, "LOC", TEXT)], "2024-01-02T10:00:00Z"),
              predictions=[{"result": [_result(5, 10, "ORG", TEXT)]}]),
        # Two completed annotations: the most recently updated one (id 2, without LOC) is read.
        _task(2, TEXT, _annotation(2, [_result(0, 10, "PER", TEXT)], "2024-01-03T10:00:00Z"),
              _annotation(3, [_result(0, 10, "PER", TEXT), _result(19, 24, "LOC", TEXT)], "2024-01-02T10:00:00Z")),
        _task(3, TEXT, _annotation(4, [], "2024-01-02T10:00:00Z", cancelled=True)),
        _task(4, TEXT, _annotation(5, [_result(0, 4, "PER", TEXT)], "2024-01-02T10:00:00Z"),
              _annotation(6, [], "2024-01-04T10:00:00Z", cancelled=True)),
        _task(5, TEXT),
    ]  # fmt: skip
    path = _write(tmp_path, "export.json", tasks)
    assert detect_format(path) == "labelstudio"
    docs, caught = _read(path, nlp)
    assert [_ents(doc) for doc in docs] == [[(0, 10, "PER"), (19, 24, "LOC")], [(0, 10, "PER")], [(0, 4, "PER")]]
    assert caught == [
        f"[W002] {path}: skipped 4 record(s) (2 cancelled annotation(s) and 2 task(s) without a completed annotation)."
    ]
    summary = _summary(docs)
    assert summary.multi_annotated == 1
    assert summary.reading_notes() == [
        "tasks annotated more than once: 1 (each read from its most recently updated completed annotation)"
    ]


def test_labelstudio_json_choices_and_utf16_offsets(tmp_path, nlp):
    text = "So good 😂 Paris"
    choice = {"type": "choices", "from_name": "c", "to_name": "text", "value": {"choices": ["joy", "love"]}}
    # The labelling view counts the emoji as two UTF-16 units: "Paris" is 11-16 there, 10-15 in Python.
    span = {"type": "labels", "value": {"start": 11, "end": 16, "text": "Paris", "labels": ["LOC"]}}
    other = {"type": "choices", "value": {"choices": ["anger"]}}
    tasks = [_task(1, text, _annotation(1, [choice, span], "x")), _task(2, "Meh", _annotation(2, [other], "x"))]
    docs, _ = _read(_write(tmp_path, "cls.json", tasks), nlp)
    assert _ents(docs[0]) == [(10, 15, "LOC")] and docs[1].has_annotation("ENT_IOB")
    assert docs[0].cats == {"anger": 0.0, "joy": 1.0, "love": 1.0}
    assert docs[1].cats == {"anger": 1.0, "joy": 0.0, "love": 0.0}


def test_labelstudio_json_min_rows_repeat_texts(tmp_path, nlp):
    rows = [
        {"text": TEXT, "id": 1, "label": [{"start": 0, "end": 10, "text": "Jane Smith", "labels": ["PER"]}],
         "annotator": 1, "annotation_id": 1, "created_at": "x", "updated_at": "x", "lead_time": 2.5},
        {"text": TEXT, "id": 1, "label": [{"start": 19, "end": 24, "text": "Paris", "labels": ["LOC"]}],
         "annotator": 2, "annotation_id": 2, "created_at": "x", "updated_at": "x", "lead_time": 1.0},
        {"text": "Nothing here", "id": 2, "annotator": 1, "annotation_id": 3, "created_at": "x", "updated_at": "x",
         "lead_time": 1.0},
    ]  # fmt: skip
    path = _write(tmp_path, "min.json", rows)
    assert detect_format(path) == "labelstudio"
    docs, _ = _read(path, nlp)
    assert [_ents(doc) for doc in docs] == [[(0, 10, "PER")], [(19, 24, "LOC")], []]
    assert _summary(docs).repeated_texts == 1
    choices = [{"text": "a", "emotion": "joy", "annotation_id": 1, "annotator": 1},
               {"text": "b", "emotion": {"choices": ["joy", "love"]}, "annotation_id": 2, "annotator": 1}]  # fmt: skip
    docs, _ = _read(_write(tmp_path, "cls-min.json", choices), nlp)
    assert [_chosen(doc) for doc in docs] == [["joy"], ["joy", "love"]]


@pytest.mark.parametrize("suffix,sep", [(".csv", ","), (".tsv", "\t")])
def test_labelstudio_csv_and_tsv(tmp_path, nlp, suffix, sep):
    header = sep.join(["text", "id", "emotion", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"])
    rows = [
        sep.join(['"He said ""hi"",\r\nthen left"', "1", '"{""choices"":[""OTHER"",""baking""]}"', "1", "1", "x", "x", "1.5"]),
        sep.join(["Plain text", "2", "OTHER", "1", "2", "x", "x", "1.5"]),
    ]  # fmt: skip
    path = _write(tmp_path, "export" + suffix, header + "\r\n" + "\r\n".join(rows) + "\r\n")
    assert detect_format(path) == "labelstudio"
    docs, _ = _read(path, nlp)
    assert [doc.text for doc in docs] == ['He said "hi",\nthen left', "Plain text"]  # CRLF read as a line break
    assert docs[0].cats == {"OTHER": 1.0, "baking": 1.0} and docs[1].cats == {"OTHER": 1.0, "baking": 0.0}


def test_labelstudio_csv_spans_in_a_cell(tmp_path, nlp):
    cell = json.dumps([{"start": 19, "end": 24, "text": "Paris", "labels": ["LOC"]}]).replace('"', '""')
    content = f'text,id,label,annotator,annotation_id\n"{TEXT}",1,"{cell}",1,1\n'
    (doc,), _ = _read(_write(tmp_path, "ner.csv", content), nlp)
    assert _ents(doc) == [(19, 24, "LOC")]


def test_format_forces_the_tool(tmp_path, nlp):
    path = _write(tmp_path, "data.export", '{"text": "Alice lives in Paris", "label": [[0, 5, "PER"]]}\n')
    (doc,), _ = _read(path, nlp, format="doccano")
    assert _ents(doc) == [(0, 5, "PER")]
    rows = [{"text": "a", "emotion": "joy", "annotation_id": 1, "annotator": 1}]
    (doc,), _ = _read(_write(tmp_path, "rows.export", rows), nlp, format="labelstudio")
    assert doc.cats == {"joy": 1.0}


# Span slips, with --span-alignment


SLIPS = '{"text": "Jane Smith met Bob", "label": [[0, 3, "PER"], [14, 18, "PER"]]}\n'


def test_a_span_that_cuts_a_token_names_the_record(tmp_path, nlp):
    path = _write(tmp_path, "slips.jsonl", '{"text": "ok", "label": []}\n' + SLIPS)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == (
        f"[E032] {path}, line 2: entity [0, 3, 'PER'] ('Jan') cuts a token ('Jane'): fix the span, or pass "
        "--span-alignment expand (or contract) to snap it to token boundaries"
    )


@pytest.mark.parametrize("alignment,expected,changed", [
    ("expand", [(0, 4, "PER"), (15, 18, "PER")], {"expanded": 1, "trimmed": 1}),
    ("contract", None, None),
])  # fmt: skip
def test_span_alignment_snaps_as_char_span_does(tmp_path, nlp, alignment, expected, changed):
    path = _write(tmp_path, "slips.jsonl", SLIPS)
    if expected is None:  # "Jan" holds no whole token: contract leaves nothing
        with pytest.raises(RecipeError, match=r"line 1: entity \[0, 3, 'PER'\] \('Jan'\) holds no whole token"):
            list(read_docs(path, nlp, span_alignment=alignment))
        return
    docs, _ = _read(path, nlp, span_alignment=alignment)
    assert _ents(docs[0]) == expected
    assert _summary(docs).reading_notes() == [
        f"entity spans changed: 2 ({', '.join(f'{n} {w}' for w, n in sorted(changed.items()))})"
    ]


def test_contract_keeps_the_whole_tokens(tmp_path, nlp):
    path = _write(tmp_path, "c.jsonl", '{"text": "Jane Smith met Bob", "label": [[0, 7, "PER"]]}\n')
    docs, _ = _read(path, nlp, span_alignment="contract")
    assert _ents(docs[0]) == [(0, 4, "PER")] and _summary(docs).spans_changed == Counter(contracted=1)


# name, content, message with {path}
ERRORS = [
    ("overlap.jsonl", '{"text": "New York City", "label": [[0, 8, "LOC"], [4, 13, "LOC"]]}\n', "[E032] {path}, line 1: entity [4, 13, 'LOC'] ('York City') overlaps [0, 8, 'LOC'] ('New York'); spaCy's entities cannot overlap"),
    ("space.jsonl", '{"text": "a  b", "label": [[1, 3, "X"]]}\n', "[E032] {path}, line 1: entity [1, 3, 'X'] ('  ') holds only whitespace"),
    ("liststr.jsonl", '{"text": "a", "label": ["[\'OTHER\', \'baking\']"]}\n', "[E032] {path}, line 1: label \"['OTHER', 'baking']\" is a list or a JSON fragment, not a name: the file's layout was not understood"),
    ("mixed.jsonl", '{"text": "a b", "label": [[0, 1, "X"], "Y"]}\n', "[E032] {path}, line 1: 'label' mixes category names and spans: [[0, 1, 'X'], 'Y']"),
    ("frag.csv", 'text,id,emotion,annotator,annotation_id\nhi,1,"{""choices"":[""OTHER""",1,1\n', "[E032] {path}, line 2: label '{\"choices\":[\"OTHER\"' is a list or a JSON fragment, not a name: the file's layout was not understood"),
    ("twolabels.json", json.dumps([_task(7, TEXT, _annotation(1, [{"type": "labels", "value": {"start": 0, "end": 4, "labels": ["A", "B"]}}], "x"))]), "[E032] {path}, task 7 (record 1): span 0-4 has labels ['A', 'B']: an entity takes one label"),
    ("notext.json", json.dumps([{"id": 3, "data": {"image": 1}, "annotations": []}]), "[E032] {path}, task 3 (record 1): a task without text ('data.text')"),
    ("cut.json", json.dumps([_task(9, TEXT, _annotation(1, [_result(1, 10, "PER", TEXT)], "x"))]), "[E032] {path}, task 9 (record 1): entity [1, 10, 'PER'] ('ane Smith') cuts a token ('Jane Smith'): fix the span, or pass --span-alignment expand (or contract) to snap it to token boundaries"),
    ("fasttext.txt", "__label__a fine\nnot a record\n", "[E026] {path}, line 2: expected __label__ words, then the text, got 'not a record'"),
    ("doccano.csv", "id,text,label,Comments\n1,a,X,\n2,b\n", "[E026] {path}, line 3: expected 4 columns as in the header, got 2"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_in_full(tmp_path, nlp, name, content, message):
    path = _write(tmp_path, name, content)
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == message.replace("{path}", str(path))


# The command line


def test_span_alignment_option_is_a_corpus_setting():
    named = cli_overrides(data=[], dev=None, lang=None, seed=None, span_alignment="expand")
    assert named["corpora.train.span_alignment"] == named["corpora.dev.span_alignment"] == "expand"
    assert "corpora.train.span_alignment" not in cli_overrides(data=[], dev=None, lang=None, seed=None)


def test_dry_run_reads_a_doccano_export_with_span_alignment(tmp_path, data_dir):
    data = tmp_path / "slips.jsonl"
    data.write_text((data_dir / "doccano-ner.jsonl").read_text(encoding="utf8") + SLIPS, encoding="utf8")
    refused = runner.invoke(app, ["ner", str(data), "-o", str(tmp_path / "a"), "--dry-run"])
    assert refused.exit_code == 1 and "line 10: entity [0, 3, 'PER'] ('Jan') cuts a token" in refused.output
    result = runner.invoke(
        app, ["ner", str(data), "-o", str(tmp_path / "b"), "--dry-run", "--span-alignment", "expand"]
    )
    assert result.exit_code == 0, result.output
    assert "entity spans changed" in result.output and "expanded" in result.output
    bad = runner.invoke(app, ["ner", str(data), "--dry-run", "--span-alignment", "loose"])
    assert bad.exit_code == 2


# Label Studio's own exports (scripts/make_annotation_fixtures.py)

# Entities per label in labelstudio-ner.conll, Label Studio's CoNLL2003 export of the same project (one sentence
# per completed annotation), which label-studio-converter's convert_to_conll2003 gives on labelstudio-ner.json too.
CONVERTER_COUNTS = Counter(location=4, person=9, product=1, group=1, **{"creative-work": 2})


def _counts(path, nlp):
    docs, caught = _read(path, nlp)
    return docs, _summary(docs), caught


@pytest.mark.parametrize(
    "name", ["labelstudio-ner.min.json", "labelstudio-ner.csv", "labelstudio-ner.tsv", "labelstudio-ner.conll"]
)
def test_labelstudio_row_exports_count_as_its_converter(data_dir, nlp, name):
    docs, summary, _ = _counts(data_dir / name, nlp)
    assert len(docs) == 12 and summary.labels["entities"] == CONVERTER_COUNTS
    if name != "labelstudio-ner.conll":
        assert detect_format(data_dir / name) == "labelstudio"
        assert summary.repeated_texts == 1 and summary.spans_changed == Counter(trimmed=1)


def test_labelstudio_json_export_reads_the_latest_annotation(data_dir, nlp):
    path = data_dir / "labelstudio-ner.json"
    docs, summary, caught = _counts(path, nlp)
    tasks = json.loads(path.read_text(encoding="utf8"))
    # 12 tasks, one cancelled; task 3's later annotation drops its last entity ('ryan'): the row exports' counts
    # less the earlier annotation of task 3.
    assert len(tasks) == 12 and len(docs) == 11
    assert summary.labels["entities"] == CONVERTER_COUNTS - Counter(person=3)
    assert [e.text for e in docs[2].ents] == ["emma", "kaite"]
    assert docs[1].ents[0].text == "Rick and Morty" and summary.spans_changed == Counter(trimmed=1)
    assert summary.multi_annotated == 1
    assert caught == [
        f"[W002] {path}: skipped 2 record(s) (1 cancelled annotation(s) and 1 task(s) without a completed annotation)."
    ]
    # Every entity as Label Studio stored it (value.start/end), the one trailing space aside.
    first = tasks[0]["annotations"][0]["result"]
    assert _ents(docs[0]) == [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in first]


@pytest.mark.parametrize(
    "name",
    [
        "labelstudio-emotions.json",
        "labelstudio-emotions.min.json",
        "labelstudio-emotions.csv",
        "labelstudio-emotions.tsv",
    ],
)
def test_labelstudio_text_classification_exports(data_dir, nlp, name):
    docs, summary, _ = _counts(data_dir / name, nlp)
    rows = name != "labelstudio-emotions.json"
    assert len(docs) == (10 if rows else 9)
    # Task 2 annotated twice: gratitude, then gratitude and love (the later, read from the JSON; the row exports
    # hold both, the later first).
    chosen = [_chosen(doc) for doc in docs]
    assert chosen[1:3] == ([["gratitude", "love"], ["gratitude"]] if rows else [["gratitude", "love"], ["neutral"]])
    assert summary.labels["categories"] == Counter(neutral=6, love=2, admiration=1, gratitude=2 if rows else 1)
    assert set(docs[0].cats) == {"admiration", "gratitude", "love", "neutral"}
    # No <Labels> result: entities are missing, not "none"; only the JSON export tells a task was annotated twice.
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)
    assert (summary.multi_annotated, summary.repeated_texts) == ((0, 1) if rows else (1, 0))
