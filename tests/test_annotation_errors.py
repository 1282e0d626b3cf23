"""Every error and warning the annotation tools' readers (Label Studio, doccano, their spans) raise, whole.

As in test_format_errors.py, each message is compared in full: the code, the file, the task, record or line, and
the reason, so that a message naming the wrong record, or none, fails. Shapes are built as small as each case
needs; the valid exports are read in test_annotation_tools.py."""

import json
import warnings
from collections import Counter

import pytest

from recipe_cli.data.formats import detect_format, read_docs
from recipe_cli.data.formats.labelstudio import ANNOTATIONS, REPEATED
from recipe_cli.data.formats.spans import spans_changed
from recipe_cli.errors import RecipeError

TEXT = "Jane Smith went to Paris"


def _labels(start, end, labels, text=TEXT, **value):
    return {"type": "labels", "value": {"start": start, "end": end, "text": text[start:end], "labels": labels, **value}}


def _task(task_id, *results, text=TEXT, **extra):
    annotations = [{"id": 1, "result": list(results), "was_cancelled": False, "updated_at": "2024-01-01"}]
    return {"id": task_id, "data": {"text": text}, "annotations": annotations, **extra}


def _ls(*tasks):
    """A Label Studio JSON export whose first task is a valid one, then the tasks given."""
    return json.dumps([_task(1, _labels(0, 10, ["PER"])), *tasks])


def _row(text=TEXT, **fields):
    return {"text": text, "id": 1, "annotator": 1, "annotation_id": 1, **fields}


def _min(*rows):
    """A Label Studio JSON-MIN export whose first row is a valid one, then the rows given."""
    return json.dumps([_row(label=[{"start": 0, "end": 10, "labels": ["PER"]}]), *rows])


CSV_HEADER = "text,id,label,annotator,annotation_id\n"
CSV_OK = f'{TEXT},1,"[{{""start"": 0, ""end"": 10, ""labels"": [""PER""]}}]",1,1\n'
CUT = "cuts a token ({words!r}): fix the span, or pass --span-alignment expand (or contract) to snap it to token boundaries"
FRAGMENT = "is a list or a JSON fragment, not a name: the file's layout was not understood"

# name, content, read_docs keywords, the message with {path} for the file.
CATALOGUE = [
    # Label Studio JSON: the file
    ("ls-invalid.json", '[{"id": 1, "annotations": [}]', {}, "[E024] {path}: invalid JSON: line 1, column 28: Expecting value"),
    ("ls-object.json", '{"annotations": []}', {"format": "labelstudio"}, "[E031] {path}: unsupported JSON layout: a Label Studio export is a list of tasks"),
    ("ls-surrogate.json", _ls(_task(2, text="bad \ud800 x")), {}, "[E025] {path}, record 2: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("ls-nothing.json", json.dumps([{"id": 1, "data": {"text": "a"}, "annotations": []}]), {}, "[E028] {path}: holds no examples."),
    # Label Studio JSON: the task
    ("ls-task-list.json", _ls([1, 2]), {}, "[E032] {path}, record 2: a task without 'data'"),
    ("ls-task-nodata.json", _ls({"id": 5, "annotations": []}), {}, "[E032] {path}, task 5 (record 2): a task without 'data'"),
    ("ls-task-datastr.json", _ls({"id": 5, "data": "hi", "annotations": []}), {}, "[E032] {path}, task 5 (record 2): a task without 'data'"),
    ("ls-annotations-dict.json", _ls({"id": 5, "data": {"text": "a"}, "annotations": {"id": 1}}), {}, "[E032] {path}, task 5 (record 2): 'annotations' is not a list"),
    ("ls-annotations-ints.json", _ls({"id": 5, "data": {"text": "a"}, "annotations": [1]}), {}, "[E032] {path}, task 5 (record 2): 'annotations' is not a list"),
    ("ls-text-blank.json", _ls(_task(6, text="  ")), {}, "[E032] {path}, task 6 (record 2): a task without text ('data.text')"),
    ("ls-text-number.json", _ls({"id": 6, "data": {"text": 7}, "annotations": []}), {}, "[E032] {path}, task 6 (record 2): a task without text ('data.text')"),
    ("ls-text-two.json", _ls({"id": 6, "data": {"title": "a", "body": "b"}, "annotations": []}), {}, "[E032] {path}, task 6 (record 2): a task without text ('data.text'): pass the project's labeling config (--label-config) to name the text's field"),
    ("ls-result-dict.json", _ls({"id": 8, "data": {"text": "a"}, "annotations": [{"id": 1, "result": {"x": 1}}]}), {}, "[E032] {path}, task 8 (record 2): 'result' is not a list"),
    # Label Studio JSON: the results
    ("ls-labels-two.json", _ls(_task(3, _labels(0, 4, ["A", "B"]))), {}, "[E032] {path}, task 3 (record 2): span 0-4 has labels ['A', 'B']: an entity takes one label"),
    ("ls-labels-str.json", _ls(_task(3, _labels(0, 4, "PER"))), {}, "[E032] {path}, task 3 (record 2): span 0-4 has labels 'PER': an entity takes one label"),
    ("ls-labels-none.json", _ls(_task(3, {"type": "labels", "value": {"start": 0, "end": 4}})), {}, "[E032] {path}, task 3 (record 2): span 0-4 has labels None: an entity takes one label"),
    ("ls-labels-untyped.json", _ls(_task(3, {"value": {"start": 0, "end": 4, "labels": []}})), {}, "[E032] {path}, task 3 (record 2): span 0-4 has labels []: an entity takes one label"),
    ("ls-label-fragment.json", _ls(_task(3, _labels(0, 4, ['["PER"']))), {}, f"[E032] {{path}}, task 3 (record 2): label '[\"PER\"' {FRAGMENT}"),
    ("ls-label-empty.json", _ls(_task(3, _labels(0, 4, [""]))), {}, "[E032] {path}, task 3 (record 2): entity [0, 4, ''] has no label"),
    ("ls-label-blank.json", _ls(_task(3, _labels(0, 4, [" "]))), {}, "[E032] {path}, task 3 (record 2): empty label"),
    ("ls-choices-dict.json", _ls(_task(4, {"type": "choices", "value": {"choices": {"joy": 1}}})), {}, "[E032] {path}, task 4 (record 2): choices {'joy': 1} are not a list"),
    ("ls-choices-none.json", _ls(_task(4, {"type": "choices", "value": {}})), {}, "[E032] {path}, task 4 (record 2): choices None are not a list"),
    ("ls-choices-untyped.json", _ls(_task(4, {"value": {"choices": 3}})), {}, "[E032] {path}, task 4 (record 2): choices 3 are not a list"),
    ("ls-choice-fragment.json", _ls(_task(4, {"type": "choices", "value": {"choices": ["['joy', 'love']"]}})), {}, f"[E032] {{path}}, task 4 (record 2): label \"['joy', 'love']\" {FRAGMENT}"),
    ("ls-choice-blank.json", _ls(_task(4, {"type": "choices", "value": {"choices": ["joy", " "]}})), {}, "[E032] {path}, task 4 (record 2): empty label"),
    # Label Studio JSON: offsets
    ("ls-offset-past.json", _ls(_task(3, _labels(19, 40, ["LOC"]))), {}, "[E032] {path}, task 3 (record 2): entity [19, 40, 'LOC'] ('Paris') does not fall on token boundaries"),
    # The task's text cut short after it was annotated: neither Python's nor UTF-16 offsets give value.text.
    ("ls-offset-edited.json", _ls(_task(3, _labels(19, 40, ["LOC"], text="Jane Smith went to Paris, France"))), {}, "[E032] {path}, task 3 (record 2): entity [19, 40, 'LOC'] ('Paris') does not fall on token boundaries"),
    ("ls-offset-reversed.json", _ls(_task(3, _labels(10, 4, ["LOC"]))), {}, "[E032] {path}, task 3 (record 2): entity [10, 4, 'LOC'] ('') does not fall on token boundaries"),
    ("ls-offset-empty.json", _ls(_task(3, _labels(4, 4, ["PER"]))), {}, "[E032] {path}, task 3 (record 2): entity [4, 4, 'PER'] ('') does not fall on token boundaries"),
    ("ls-offset-negative.json", _ls(_task(3, _labels(-5, 24, ["LOC"]))), {}, "[E032] {path}, task 3 (record 2): entity [-5, 24, 'LOC'] ('Paris') does not fall on token boundaries"),
    ("ls-offset-float.json", _ls(_task(3, {"type": "labels", "value": {"start": 0.0, "end": 4, "labels": ["PER"]}})), {}, "[E032] {path}, task 3 (record 2): entity [0.0, 4, 'PER'] ('') does not fall on token boundaries"),
    ("ls-offset-bool.json", _ls(_task(3, {"type": "labels", "value": {"start": False, "end": 4, "labels": ["PER"]}})), {}, "[E032] {path}, task 3 (record 2): entity [False, 4, 'PER'] ('Jane') does not fall on token boundaries"),
    ("ls-whitespace.json", _ls(_task(3, _labels(10, 11, ["X"]))), {}, "[E032] {path}, task 3 (record 2): entity [10, 11, 'X'] (' ') holds only whitespace"),
    ("ls-overlap.json", _ls(_task(3, _labels(5, 15, ["A"]), _labels(0, 10, ["B"]))), {}, "[E032] {path}, task 3 (record 2): entity [5, 15, 'A'] ('Smith went') overlaps [0, 10, 'B'] ('Jane Smith'); spaCy's entities cannot overlap"),
    ("ls-overlap-same.json", _ls(_task(3, _labels(19, 24, ["LOC"]), _labels(19, 24, ["GPE"]))), {}, "[E032] {path}, task 3 (record 2): entity [19, 24, 'GPE'] ('Paris') overlaps [19, 24, 'LOC'] ('Paris'); spaCy's entities cannot overlap"),
    ("ls-overlap-expanded.json", _ls(_task(3, _labels(0, 2, ["A"]), _labels(2, 4, ["B"]))), {"span_alignment": "expand"}, "[E032] {path}, task 3 (record 2): entity [0, 4, 'B'] ('Jane') overlaps [0, 4, 'A'] ('Jane'); spaCy's entities cannot overlap"),
    ("ls-cut.json", _ls(_task(3, _labels(0, 7, ["PER"]))), {}, "[E032] {path}, task 3 (record 2): entity [0, 7, 'PER'] ('Jane Sm') " + CUT.format(words="Jane Smith")),
    ("ls-cut-trimmed.json", _ls(_task(3, _labels(4, 7, ["PER"]))), {}, "[E032] {path}, task 3 (record 2): entity [4, 7, 'PER'] (' Sm') " + CUT.format(words="Smith")),
    ("ls-contract.json", _ls(_task(3, _labels(1, 8, ["PER"]))), {"span_alignment": "contract"}, "[E032] {path}, task 3 (record 2): entity [1, 8, 'PER'] ('ane Smi') holds no whole token: --span-alignment contract leaves nothing of it"),
    # The UTF-16 offsets are taken only where value.text confirms them; else they are Python's, and cut a token.
    ("ls-utf16-untold.json", _ls(_task(3, {"type": "labels", "value": {"start": 3, "end": 8, "labels": ["LOC"]}}, text="😂 Paris went")), {}, "[E032] {path}, task 3 (record 2): entity [3, 8, 'LOC'] ('aris ') " + CUT.format(words="Paris")),
    # Label Studio JSON-MIN
    ("min-invalid.json", '[{"annotation_id": 1, "text": "a",]', {}, "[E024] {path}: invalid JSON: line 1, column 35: Expecting property name enclosed in double quotes"),
    ("min-object.json", json.dumps(_row()), {"format": "labelstudio"}, "[E031] {path}: unsupported JSON layout: a Label Studio export is a list of tasks"),
    ("min-surrogate.json", _min(_row(), _row(text="x")).replace('"x"', '"\\udfff"'), {}, "[E025] {path}, record 3: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("min-empty.json", "[]", {"format": "labelstudio"}, "[E028] {path}: holds no examples."),
    ("min-list.json", _min(["a", 1]), {}, "[E032] {path}, record 2: expected a JSON object"),
    ("min-notext.json", _min({"annotation_id": 2, "annotator": 1, "review": "good"}), {}, "[E032] {path}, record 2: a row without text ('text'): pass the project's labeling config (--label-config) to name the text's field"),
    ("min-blank.json", _min(_row(text="\n")), {}, "[E032] {path}, record 2: a row without text ('text')"),
    ("min-number.json", _min(_row(label=4)), {}, "[E032] {path}, record 2: field 'label' holds 4: expected spans, as in its other rows or the labeling config"),
    ("min-strings.json", _min(_row(label=["a", "b"])), {}, "[E032] {path}, record 2: field 'label' holds ['a', 'b']: expected spans, as in its other rows or the labeling config"),
    ("min-labels-two.json", _min(_row(label=[{"start": 0, "end": 4, "labels": ["A", "B"]}])), {}, "[E032] {path}, record 2: span 0-4 has labels ['A', 'B']: an entity takes one label"),
    ("min-choices.json", _min(_row(emotion={"choices": {"joy": True}})), {}, "[E032] {path}, record 2: choices {'joy': True} are not a list"),
    ("min-choice-fragment.json", _min(_row(emotion='{"choices": ["joy"')), {}, f"[E032] {{path}}, record 2: label '{{\"choices\": [\"joy\"' {FRAGMENT}"),
    ("min-cut.json", _min(_row(label=[{"start": 5, "end": 8, "labels": ["PER"]}])), {}, "[E032] {path}, record 2: entity [5, 8, 'PER'] ('Smi') " + CUT.format(words="Smith")),
    ("min-overlap.json", _min(_row(a=[{"start": 0, "end": 10, "labels": ["PER"]}], b=[{"start": 5, "end": 10, "labels": ["X"]}])), {}, "[E032] {path}, record 2: entity [5, 10, 'X'] ('Smith') overlaps [0, 10, 'PER'] ('Jane Smith'); spaCy's entities cannot overlap"),
    # Label Studio CSV and TSV
    ("ls-width.csv", CSV_HEADER + CSV_OK + "a,2,,1\n", {}, "[E026] {path}, line 3: expected 5 columns as in the header, got 4"),
    ("ls-notext.csv", "review,id,label,annotator,annotation_id\ngood,1,,1,1\n", {}, "[E032] {path}, line 2: a row without text ('text'): pass the project's labeling config (--label-config) to name the text's field"),
    ("ls-annotation-columns-only.csv", "annotation_id,annotator\n1,1\n", {}, "[E032] {path}, line 2: a row without text ('text'): pass the project's labeling config (--label-config) to name the text's field"),
    ("ls-blank.tsv", "text\tid\temotion\tannotator\tannotation_id\nfine\t1\tjoy\t1\t1\n \t2\tjoy\t1\t2\n", {}, "[E032] {path}, line 3: a row without text ('text')"),
    ("ls-cell-number.csv", CSV_HEADER + CSV_OK + 'Bob,2,"{""rating"": 4}",1,2\n', {}, "[E032] {path}, line 3: field 'label' holds {'rating': 4}: expected spans, as in its other rows or the labeling config"),
    ("ls-cell-list.csv", CSV_HEADER + CSV_OK + 'Bob,2,"[1, 2]",1,2\n', {}, "[E032] {path}, line 3: field 'label' holds [1, 2]: expected spans, as in its other rows or the labeling config"),
    # A cell Excel cut at its 32,767 characters: no longer JSON, and no category name.
    ("ls-cell-truncated.csv", CSV_HEADER + CSV_OK + 'Bob,2,"[{""start"": 0, ""end"": 3",1,2\n', {}, f"[E032] {{path}}, line 3: label '[{{\"start\": 0, \"end\": 3' {FRAGMENT}"),
    ("ls-cell-fragment.tsv", "text\tid\temotion\tannotator\tannotation_id\nfine\t1\tjoy\t1\t1\nBob\t2\t['joy', 'love']\t1\t2\n", {}, f"[E032] {{path}}, line 3: label \"['joy', 'love']\" {FRAGMENT}"),
    ("ls-cell-cut.csv", CSV_HEADER + CSV_OK + f'{TEXT},2,"[{{""start"": 19, ""end"": 22, ""labels"": [""LOC""]}}]",1,2\n', {}, "[E032] {path}, line 3: entity [19, 22, 'LOC'] ('Par') " + CUT.format(words="Paris")),
    # doccano JSONL
    ("dc-invalid.jsonl", '{"text": "a", "label": ["A"]}\n{"text": "b", "label": ["A"}\n', {}, "[E026] {path}, line 2: invalid JSON at column 28: Expecting ',' delimiter"),
    ("dc-array.jsonl", '{"text": "a", "label": ["A"]}\n\n["b", ["A"]]\n', {}, "[E026] {path}, line 3: expected a JSON object"),
    ("dc-surrogate.jsonl", '{"text": "a", "label": ["A"]}\n{"text": "\\udc00", "label": ["A"]}\n', {}, "[E026] {path}, line 2: a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"),
    ("dc-blank.jsonl", "\n \n", {"format": "doccano"}, "[E028] {path}: holds no examples."),
    ("dc-notext.jsonl", '{"text": "a", "label": ["A"]}\n{"id": 2, "label": ["A"]}\n', {}, "[E032] {path}, line 2: record without text"),
    ("dc-text-blank.jsonl", '{"text": "a", "label": ["A"]}\n{"text": " ", "label": ["A"]}\n', {}, "[E032] {path}, line 2: record without text"),
    ("dc-text-number.jsonl", '{"text": "a", "label": ["A"]}\n{"data": 5, "label": ["A"]}\n', {}, "[E032] {path}, line 2: record without text"),
    ("dc-pair.jsonl", '{"text": "a b", "label": [[0, 1, "X"]]}\n{"text": "a b", "label": [[0, 1]]}\n', {}, "[E032] {path}, line 2: entity [0, 1] is not [start, end, label]"),
    ("dc-entity-dict.jsonl", '{"text": "a b", "entities": [{"start_offset": 0, "end_offset": 1, "label": "X"}, {"label": "Y"}]}\n', {}, "[E032] {path}, line 1: entity [None, None, 'Y'] ('') does not fall on token boundaries"),
    ("dc-entity-string.jsonl", '{"text": "a b", "cats": ["A"], "entities": ["0 1 X"]}\n', {}, "[E032] {path}, line 1: entity '0 1 X' is not [start, end, label]"),
    ("dc-entity-nolabel.jsonl", '{"text": "a b", "label": [[0, 1, null]]}\n', {}, "[E032] {path}, line 1: entity [0, 1, None] has no label"),
    ("dc-entity-fragment.jsonl", '{"text": "a b", "label": [[0, 1, "X]"]]}\n', {}, f"[E032] {{path}}, line 1: label 'X]' {FRAGMENT}"),
    ("dc-entity-past.jsonl", '{"text": "a b", "label": [[2, 4, "X"]]}\n', {}, "[E032] {path}, line 1: entity [2, 4, 'X'] ('b') does not fall on token boundaries"),
    ("dc-cut-expand-overlap.jsonl", '{"text": "Jane Smith", "label": [[0, 6, "A"], [7, 10, "B"]]}\n', {"span_alignment": "expand"}, "[E032] {path}, line 1: entity [5, 10, 'B'] ('Smith') overlaps [0, 10, 'A'] ('Jane Smith'); spaCy's entities cannot overlap"),
    ("dc-cats-spans.jsonl", '{"text": "a", "cats": ["A"]}\n{"text": "b", "cats": [["A"]]}\n', {}, "[E032] {path}, line 2: 'cats' mixes category names and spans: [['A']]"),
    ("dc-labels-mixed.jsonl", '{"text": "a", "labels": ["A"]}\n{"text": "b", "labels": ["B", {"A": 1}]}\n', {}, "[E032] {path}, line 2: 'labels' mixes category names and spans: ['B', {'A': 1}]"),
    ("dc-label-blank.jsonl", '{"text": "a", "label": ["A"]}\n{"text": "b", "label": ["B", ""]}\n', {}, "[E032] {path}, line 2: empty label"),
    ("dc-label-fragment.jsonl", '{"text": "a", "label": ["A"]}\n{"text": "b", "label": "[\\"B\\"]"}\n', {}, f"[E032] {{path}}, line 2: label '[\"B\"]' {FRAGMENT}"),
    # doccano JSON (a list of records)
    ("dc-list.json", '[{"text": "a", "label": ["A"]}, "b"]', {}, "[E025] {path}, record 2: expected a JSON object"),
    ("dc-list-invalid.json", '[{"text": "a", "label": ["A"]},\n {"text": "b"]', {"format": "doccano"}, "[E024] {path}: invalid JSON: line 2, column 14: Expecting ',' delimiter"),
    ("dc-list-empty.json", "[]", {"format": "doccano"}, "[E028] {path}: holds no examples."),
    ("dc-list-notext.json", '[{"text": "a", "label": ["A"]}, {"label": ["B"]}]', {}, "[E032] {path}, record 2: record without text"),
    ("dc-list-cut.json", '[{"text": "a", "label": []}, {"text": "Jane Smith", "label": [[0, 2, "PER"]]}]', {}, "[E032] {path}, record 2: entity [0, 2, 'PER'] ('Ja') " + CUT.format(words="Jane")),
    # doccano CSV
    ("dc-header.csv", "id,sentence,category\n1,a,A\n", {"format": "doccano"}, "[E026] {path}, line 1: a doccano CSV export has 'text' and 'label' columns; the header holds id, sentence, category"),
    ("dc-header-nolabel.csv", "id,text,Comments\n1,a,\n", {"format": "doccano"}, "[E026] {path}, line 1: a doccano CSV export has 'text' and 'label' columns; the header holds id, text, comments"),
    ("dc-wide.csv", 'id,text,label,Comments\n1,a,X,\n2,"b, c",Y,,\n', {}, "[E026] {path}, line 3: expected 4 columns as in the header, got 5"),
    ("dc-fragment.csv", 'id,text,label,Comments\n1,a,X,\n2,b,"[\'X\', \'Y\']",\n', {}, f"[E032] {{path}}, line 3: label \"['X', 'Y']\" {FRAGMENT}"),
    ("dc-notext.csv", "id,text,label,Comments\n1,a,X,\n2, ,Y,\n", {}, "[E032] {path}, line 3: record without text"),
    # doccano fastText
    ("ft-text.txt", '__label__a fine\n"__label__b quoted, text"\nplain words\n', {}, "[E026] {path}, line 3: expected __label__ words, then the text, got 'plain words'"),
    ("ft-label-only.txt", '__label__a fine\n"__label__b two\nlines"\n__label__c\n', {}, "[E032] {path}, line 4: record without text"),
    ("ft-long.txt", "__label__a fine\n" + "x" * 60 + "\n", {}, f"[E026] {{path}}, line 2: expected __label__ words, then the text, got {'x' * 40!r}"),
    ("ft-fragment.txt", "__label__a fine\n__label__[b] text\n", {}, f"[E032] {{path}}, line 2: label '[b]' {FRAGMENT}"),
]  # fmt: skip


@pytest.mark.parametrize("name,content,kwargs,message", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_annotation_errors_in_full(tmp_path, nlp, name, content, kwargs, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp, **kwargs))
    assert str(error.value) == message.replace("{path}", str(path))


# Messages that named the wrong place or gave the wrong reason, with what was wrong. WRONG_STILL: those the
# readers still get wrong (strict xfails), until they give the right message.
WRONG = [
    ("ls-task-noid.json", _ls({"annotations": []}), "[E032] {path}, record 2: a task without 'data'",
     "labelstudio.py names a task without an 'id' 'task 2 (record 2)': it makes up a task id from the record number"),
    ("ls-label-list.json", _ls(_task(3, _labels(0, 4, [["PER"]]))), f"[E032] {{path}}, task 3 (record 2): label ['PER'] {FRAGMENT}",
     "spans.entity_spans says a label that is a list 'has no label' before check_label can name it"),
    ("ls-width-quoted.csv", CSV_HEADER + CSV_OK + '"a\nb",2,,1,2,3\n', "[E026] {path}, line 3: expected 5 columns as in the header, got 6",
     "table_rows numbers a row by the line it ends on (csv reader.line_num), not the line it starts on"),
]  # fmt: skip


WRONG_STILL: set[str] = set()


@pytest.mark.parametrize(
    "name,content,message,why",
    [pytest.param(*c, marks=pytest.mark.xfail(strict=True, reason=c[3])) if c[0] in WRONG_STILL else c for c in WRONG],
    ids=[c[0] for c in WRONG],
)
def test_messages_that_were_wrong(tmp_path, nlp, name, content, message, why):
    path = tmp_path / name
    path.write_text(content, encoding="utf8")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == message.replace("{path}", str(path))


# Readings and counts


def _read(tmp_path, name, content, **kwargs):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = list(read_docs(path, nlp=kwargs.pop("nlp"), **kwargs))
    return path, docs, [str(w.message) for w in caught]


def _ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def _annotation(annotation_id, results, updated=None, created=None, cancelled=False):
    annotation = {"id": annotation_id, "result": results, "was_cancelled": cancelled}
    annotation.update({"updated_at": updated} if updated else {}, **({"created_at": created} if created else {}))
    return annotation


def test_labelstudio_reads_the_latest_completed_annotation_and_counts_the_rest(tmp_path, nlp):
    a, b = _labels(0, 10, ["A"]), _labels(19, 24, ["B"])
    tasks = [
        # The same updated_at: the higher id. A later cancelled annotation is not read, but counted.
        {"id": 1, "data": {"text": TEXT}, "annotations": [
            _annotation(2, [b], "2024-01-02"), _annotation(1, [a], "2024-01-02"), _annotation(3, [a], "2024-01-01"),
            _annotation(4, [], "2024-01-09", cancelled=True)]},
        # No updated_at: created_at.
        {"id": 2, "data": {"text": TEXT}, "annotations": [
            _annotation(5, [a], created="2024-01-05"), _annotation(6, [b], created="2024-01-04")]},
        # The most recent annotation is cancelled: the earlier completed one is read.
        {"id": 3, "data": {"text": TEXT}, "annotations": [
            _annotation(7, [a], "2024-01-01"), _annotation(8, [b], "2024-01-03", cancelled=True)]},
        # Every annotation cancelled, and none at all: the task is skipped.
        {"id": 4, "data": {"text": TEXT}, "annotations": [_annotation(9, [], cancelled=True),
                                                          _annotation(10, [], cancelled=True)]},
        {"id": 5, "data": {"text": TEXT}, "annotations": 0},
        # A data field other than 'text', where it is the only string; results Label Studio has but are not read.
        {"id": 6, "data": {"review": "Great stuff", "score": 5}, "annotations": [_annotation(11, [
            {"type": "choices", "value": {"choices": "good"}}, {"type": "relation"}, "junk",
            {"type": "labels", "value": "x"}])]},
    ]  # fmt: skip
    path, docs, caught = _read(tmp_path, "latest.json", tasks, nlp=nlp)
    assert [_ents(doc) for doc in docs] == [[(19, 24, "B")], [(0, 10, "A")], [(0, 10, "A")], []]
    assert [doc.user_data.get(ANNOTATIONS) for doc in docs] == [3, 2, None, None]
    assert docs[3].text == "Great stuff" and docs[3].cats == {"good": 1.0}
    # Tasks are counted, each once, by why it was skipped; the cancelled annotations of tasks read are not.
    assert caught == [
        f"[W021] {path}: skipped 2 of 6 task(s): 1 never annotated and 1 with every annotation cancelled (skipped in "
        "the labelling view)."
    ]


def test_labelstudio_ties_and_undated_annotations(tmp_path, nlp):
    """The same updated_at: the higher id, wherever it stands; an annotation without an id or a date loses."""
    a, b = _labels(0, 10, ["A"]), _labels(19, 24, ["B"])
    tasks = [
        {"id": 1, "data": {"text": TEXT}, "annotations": [_annotation(1, [a], "2024-01-02"),
                                                          _annotation(2, [b], "2024-01-02")]},
        {"id": 2, "data": {"text": TEXT}, "annotations": [{"result": [a], "updated_at": "2024-01-02"},
                                                          _annotation(1, [b], "2024-01-02")]},
        {"id": 3, "data": {"text": TEXT}, "annotations": [_annotation(1, [b], "2024-01-02"), _annotation(2, [a])]},
    ]  # fmt: skip
    _, docs, _ = _read(tmp_path, "ties.json", tasks, nlp=nlp)
    assert [_ents(doc) for doc in docs] == [[(19, 24, "B")]] * 3


def test_labelstudio_results_not_read_and_results_without_a_type(tmp_path, nlp):
    """A relation (no 'value') or a text area between two spans hides neither; results without a 'type' are read
    by their value's keys. Data fields beside 'text' (a task imported from a table keeps every column) are not
    the text."""
    relation = {"from_id": "a", "to_id": "b", "type": "relation", "direction": "right", "labels": []}
    note = {"type": "textarea", "value": {"text": ["met at the station"]}}
    untyped = [{"value": {"start": 19, "end": 24, "labels": ["LOC"]}}, {"value": {"text": ["a note"]}},
               {"value": {"choices": ["travel"]}}]  # fmt: skip
    data = {"text": TEXT, "source": "wnut17", "split": "dev"}
    tasks = [
        {"id": 1, "data": data, "annotations": [_annotation(1, [_labels(0, 10, ["PER"]), relation, note,
                                                                 _labels(19, 24, ["LOC"])])]},
        {"id": 2, "data": data, "annotations": [_annotation(2, untyped)]},
    ]  # fmt: skip
    _, docs, caught = _read(tmp_path, "results.json", tasks, nlp=nlp)
    assert [doc.text for doc in docs] == [TEXT, TEXT] and caught == []
    assert [_ents(doc) for doc in docs] == [[(0, 10, "PER"), (19, 24, "LOC")], [(19, 24, "LOC")]]
    assert [doc.cats for doc in docs] == [{}, {"travel": 1.0}]


def test_labelstudio_utf16_units_at_the_edge_of_the_basic_plane(tmp_path, nlp):
    """U+FFFF is one UTF-16 unit, U+10000 two: "Paris" is 4-9 in the labelling view's units, 3-8 in Python's."""
    text = "\uffff\U00010000 Paris"
    content = _ls(_task(2, {"type": "labels", "value": {"start": 4, "end": 9, "text": "Paris", "labels": ["LOC"]}},
                        text=text))  # fmt: skip
    _, docs, _ = _read(tmp_path, "edge.json", content, nlp=nlp)
    assert _ents(docs[1]) == [(3, 8, "LOC")]


def test_labelstudio_warns_nothing_where_nothing_was_skipped(tmp_path, nlp):
    # A Counter holding a 0 is true: every clean export warned "skipped 0 record(s) (0 cancelled annotation(s))".
    _, docs, caught = _read(tmp_path, "clean.json", _ls(), nlp=nlp)
    assert len(docs) == 1
    assert caught == []


@pytest.mark.parametrize("alignment,ents,changed", [
    ("expand", [(0, 10, "P")], Counter(trimmed=1, expanded=1)),
    ("contract", [(5, 10, "P")], Counter(trimmed=1, contracted=1)),
])  # fmt: skip
def test_labelstudio_spans_changed_are_counted_on_the_doc(tmp_path, nlp, alignment, ents, changed):
    # "e Smith " takes a space (trimmed) and cuts "Jane" (snapped).
    content = _ls(_task(2, _labels(3, 11, ["P"]), _labels(19, 24, ["LOC"])))
    _, docs, _ = _read(tmp_path, "snap.json", content, nlp=nlp, span_alignment=alignment)
    assert _ents(docs[1]) == [*ents, (19, 24, "LOC")]
    assert spans_changed(docs[1]) == changed and spans_changed(docs[0]) == Counter()


def test_labelstudio_utf16_offsets_in_rows_and_python_offsets_kept(tmp_path, nlp):
    text = "😂😂 Paris ok"
    utf16 = [_row(text, label=[{"start": 5, "end": 10, "text": "Paris", "labels": ["LOC"]}])]
    python = [_row(text, label=[{"start": 3, "end": 8, "text": "Paris", "labels": ["LOC"]}])]
    for name, rows in (("utf16.json", utf16), ("python.json", python)):
        _, docs, _ = _read(tmp_path, name, rows, nlp=nlp)
        assert _ents(docs[0]) == [(3, 8, "LOC")], name


def test_labelstudio_rows_flag_repeated_texts_but_tasks_do_not(tmp_path, nlp):
    choices = '"{""choices"": [""joy""]}"'
    csv = f"text,id,emotion,annotator,annotation_id\nhi,1,{choices},1,1\nhi,1,,2,2\nho,2,sad,1,3\n"
    _, docs, caught = _read(tmp_path, "rows.csv", csv, nlp=nlp)
    assert [doc.user_data.get(REPEATED) for doc in docs] == [None, True, None]
    assert [doc.cats for doc in docs] == [{"joy": 1.0, "sad": 0.0}, {}, {"joy": 0.0, "sad": 1.0}] and caught == []
    _, docs, _ = _read(tmp_path, "tasks.json", [_task(1, text="hi"), _task(2, text="hi")], nlp=nlp)
    assert [doc.user_data.get(REPEATED) for doc in docs] == [None, None]


def test_doccano_fasttext_line_without_labels_and_json_list_relations(tmp_path, nlp):
    _, docs, caught = _read(tmp_path, "ft.txt", "__label__a fine __comment__ ok\n  no label here\n", nlp=nlp)
    assert [(doc.text, doc.cats) for doc in docs] == [("fine", {"a": 1.0}), ("no label here", {})] and caught == []
    records = [{"text": "Jane went", "entities": [{"id": 1, "label": "PER", "start_offset": 0, "end_offset": 4}],
                "relations": [{"id": 1, "from_id": 1, "to_id": 1, "type": "x"}, {"id": 2}]},
               {"text": "b", "entities": [], "relations": []}]  # fmt: skip
    path, docs, caught = _read(tmp_path, "rel.json", records, nlp=nlp)
    assert [_ents(doc) for doc in docs] == [[(0, 4, "PER")], []]
    assert caught == [
        f"[W010] {path}: 2 relation(s) not read: recipe-train trains entities and categories, not relations."
    ]


def test_a_line_keeps_its_last_characters_whatever_they_are(tmp_path, nlp):
    """Only the line break is taken off a line (CRLF too): a text ending in X or in a quote keeps it."""
    content = "__label__person Malcolm X\r\n__label__b 'quoted'\r\n__label__c last X"
    _, docs, _ = _read(tmp_path, "ft.txt", content, nlp=nlp)
    assert [doc.text for doc in docs] == ["Malcolm X", "'quoted'", "last X"]
    # Token per line: the tag is last on its line.
    _, docs, _ = _read(tmp_path, "tax.iob", "Tax B-TAX\r\nrates O\r\n\r\nMalcolm B-PERX\nX I-PERX\n", nlp=nlp)
    assert [[(e.text, e.label_) for e in doc.ents] for doc in docs] == [[("Tax", "TAX")], [("Malcolm X", "PERX")]]


def test_a_record_is_doccanos_by_its_own_keys_not_any_entity_list():
    from recipe_cli.data.formats.doccano import is_doccano_record

    assert is_doccano_record({"text": "Ann", "entities": [{"start_offset": 0, "end_offset": 3, "label": "PER"}]})
    assert not is_doccano_record({"text": "Ann", "entities": [{"start": 0, "end": 3, "label": "PER"}]})
    assert not is_doccano_record({"text": "Ann", "entities": []})


def test_doccano_fasttext_line_of_labels_and_a_comment_has_no_text(tmp_path, nlp):
    path = tmp_path / "comment.txt"
    path.write_text("__label__a fine\n__label__b __comment__ only a comment\n", encoding="utf8")
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    assert str(error.value) == f"[E032] {path}, line 2: record without text"


@pytest.mark.parametrize("fmt,content", [
    ("doccano", '[{"text": "a", "label": ["A"]}]'),
    ("labelstudio", json.dumps([_task(1, text="a")])),
])  # fmt: skip
def test_json_exports_with_a_byte_order_mark(tmp_path, nlp, fmt, content):
    path = tmp_path / "bom.json"
    path.write_text("\ufeff" + content, encoding="utf8")
    assert [doc.text for doc in read_docs(path, nlp, format=fmt)] == ["a"]
    assert [doc.text for doc in read_docs(path, nlp)] == ["a"]  # and told apart from the other layouts


@pytest.mark.parametrize("name", ["tasks.json", "rows.json"])
def test_labelstudio_export_resaved_in_latin_1(tmp_path, nlp, name):
    """An export an editor saved back as Latin-1: the byte named, whichever layout it holds."""
    content = _ls(_task(2, text="Café ok")) if name == "tasks.json" else _min(_row(text="Café ok"))
    content = json.dumps(json.loads(content), ensure_ascii=False)  # as Label Studio writes it
    path = tmp_path / name
    path.write_bytes(content.encode("utf8").replace("é".encode(), "é".encode("latin-1")))
    with pytest.raises(RecipeError) as error:
        list(read_docs(path, nlp))
    byte = content.encode("utf8").index("é".encode())
    assert str(error.value) == f"[E023] {path}: not valid UTF-8 text (line 1, byte {byte}: invalid continuation byte)."


@pytest.mark.parametrize("fmt,content", [
    ("doccano", '\n  [{"text": "a", "label": ["A"]}]'),
    ("labelstudio", "\n" + json.dumps([_task(1, text="a")])),
])  # fmt: skip
def test_json_exports_after_whitespace(tmp_path, nlp, fmt, content):
    path = tmp_path / "spaced.json"
    path.write_text(content, encoding="utf8")
    assert [doc.text for doc in read_docs(path, nlp)] == ["a"]
    assert detect_format(path) == fmt


def test_labelstudio_spans_in_any_order_each_trim_counted(tmp_path, nlp):
    # Results are stored in the order they were made: " Paris" before "Jane Smith ", each taking a space.
    content = _ls(_task(2, _labels(18, 24, ["LOC"]), _labels(0, 11, ["PER"])))
    _, docs, _ = _read(tmp_path, "order.json", content, nlp=nlp)
    assert _ents(docs[1]) == [(0, 10, "PER"), (19, 24, "LOC")]
    assert spans_changed(docs[1]) == Counter(trimmed=2)
    # "Pari" and "ane Smith" cut a token each: both snapped, both counted.
    content = _ls(_task(2, _labels(19, 23, ["LOC"]), _labels(1, 10, ["PER"])))
    _, docs, _ = _read(tmp_path, "order.json", content, nlp=nlp, span_alignment="expand")
    assert _ents(docs[1]) == [(0, 10, "PER"), (19, 24, "LOC")]
    assert spans_changed(docs[1]) == Counter(expanded=2)
