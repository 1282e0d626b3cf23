"""Label Studio's exports of text projects, as Label Studio 1.x writes them.

- JSON: a list of tasks ``{"id", "data": {"text"}, "annotations": [{"id", "result": [...], "was_cancelled",
  "updated_at", ...}], "predictions": [...]}``. A result of ``"type": "labels"`` is an entity (``value.start``,
  ``value.end``, ``value.labels``); one of ``"type": "choices"`` gives categories (``value.choices``). Other
  results (relations, text areas, ratings) are not read. Predictions are a model's suggestions, not training
  data: never read. Cancelled annotations (skipped in the labelling view) are skipped and counted, as are tasks
  left without a completed annotation. **A task annotated by several people is read from its most recently
  updated completed annotation** (``updated_at``, then ``created_at``, then the higher id); the summary counts
  such tasks.
- JSON-MIN, CSV and TSV: one flat row per completed annotation (a task annotated twice is two rows, cancelled
  ones are dropped): the data fields (``text``), ``id``, ``annotator``, ``annotation_id``, ``created_at``,
  ``updated_at``, ``lead_time``, and one field per control tag, named after it: a list of ``{"start", "end",
  "labels"}`` for a ``<Labels>`` tag, ``{"choices": [...]}`` for several choices, or the choice itself as a
  string. In CSV/TSV the lists and objects are JSON text in a cell. The summary counts the rows whose text
  repeats an earlier row's.
- CoNLL2003 (``.conll``) is read by the IOB reader.

Offsets are those of the text as Python counts characters; offsets counted in UTF-16 units (as the labelling
view's JavaScript counts them, two per emoji) are recognised when the result's ``value.text`` shows it. Spans are
read with ``spans.entity_spans`` (whitespace trimmed, tokens cut refused or snapped). Every category seen in the
file is a category of every text that has one: 1.0 where chosen, else 0.0; a text without a choice leaves its
categories missing.
"""

import json
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError, Warnings
from ._text import SURROGATE, json_error, lone_surrogate, read_text
from .spans import check_label, entity_spans
from .table import table_rows

# doc.user_data keys: the number of completed annotations of a task read from its latest (set where more than
# one), and whether the text repeats an earlier row's (one-row-per-annotation exports).
ANNOTATIONS = "recipe_annotations"
REPEATED = "recipe_repeated_text"
# Fields of a JSON-MIN/CSV row that are neither the task's text nor a control tag's result.
_ROW_FIELDS = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"}


def read_labelstudio(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a Label Studio JSON, JSON-MIN, CSV or TSV export (see the module docstring)."""
    skipped: Counter = Counter()
    items = list(_tasks(path, skipped) if _is_full_export(path) else _rows(path))
    if not items:
        raise RecipeError(Errors.E028.format(path=path))
    categories = sorted({name for item in items for name in item.choices})
    spans = any(item.entities is not None for item in items)
    seen: set[str] = set()
    for item in items:
        doc = nlp.make_doc(item.text)
        if spans:
            doc.ents = entity_spans(path, item.where, doc, item.entities or [], span_alignment)
        if item.choices:
            doc.cats = {label: float(label in item.choices) for label in categories}
        if item.annotations > 1:
            doc.user_data[ANNOTATIONS] = item.annotations
        if item.row and item.text in seen:
            doc.user_data[REPEATED] = True
        seen.add(item.text)
        yield doc
    if sum(skipped.values()):
        counts = " and ".join(f"{n} {why}" for why, n in sorted(skipped.items()) if n)
        warnings.warn(Warnings.W002.format(path=path, n=sum(skipped.values()), counts=counts), stacklevel=2)


def is_labelstudio_json(start: str) -> bool:
    """Whether the start of a .json file is a Label Studio export: tasks with 'annotations', or JSON-MIN rows
    with 'annotation_id'."""
    return start.lstrip().startswith("[") and ('"annotations":' in start or '"annotation_id":' in start)


def is_labelstudio_header(cells: list[str]) -> bool:
    """Whether a CSV/TSV header is Label Studio's (it names 'annotation_id' and 'annotator')."""
    names = {cell.strip().lower() for cell in cells}
    return {"annotation_id", "annotator"} <= names


class _Item:
    """One text as an export gives it: where it is, its text, entities as triples (None: no <Labels> result),
    chosen categories, how many completed annotations it had, and whether it is a one-per-annotation row."""

    def __init__(self, where: str, text: str, *, row: bool, annotations: int = 1) -> None:
        self.where = where
        self.text = text
        self.entities: list | None = None
        self.choices: set[str] = set()
        self.annotations = annotations
        self.row = row


def _is_full_export(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    with path.open(encoding="utf8", errors="replace") as file:
        return '"annotations":' in file.read(1 << 16)


def _load(path: Path) -> list:
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecipeError(Errors.E024.format(path=path, error=json_error(e))) from None
    if not isinstance(data, list):
        raise RecipeError(Errors.E031.format(path=path, reason="a Label Studio export is a list of tasks"))
    if lone_surrogate(text, data):
        bad = next(i for i, task in enumerate(data, start=1) if lone_surrogate(text, task))
        raise RecipeError(Errors.E025.format(path=path, record=bad, reason=SURROGATE))
    return data


def _tasks(path: Path, skipped: Counter) -> Iterator[_Item]:
    for i, task in enumerate(_load(path), start=1):
        where = f"task {task['id']} (record {i})" if isinstance(task, dict) and "id" in task else f"record {i}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="a task without 'data'"))
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="'annotations' is not a list"))
        text = _task_text(path, where, task["data"])
        completed = [a for a in annotations if not a.get("was_cancelled")]
        skipped["cancelled annotation(s)"] += len(annotations) - len(completed)
        if not completed:
            skipped["task(s) without a completed annotation"] += 1
            continue
        latest = max(completed, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""),
                                                a.get("id") if isinstance(a.get("id"), int) else 0))  # fmt: skip
        item = _Item(where, text, row=False, annotations=len(completed))
        results = latest.get("result") or []
        if not isinstance(results, list):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="'result' is not a list"))
        for result in results:
            if not isinstance(result, dict) or not isinstance(result.get("value"), dict):
                continue
            value = result["value"]
            kind = result.get("type")
            if kind is None:  # a result without a type: what its value holds
                kind = next((key for key in ("labels", "choices") if key in value), None)
            if kind == "labels":
                item.entities = [*(item.entities or []), _span(path, where, item.text, value)]
            elif kind == "choices":
                item.choices.update(_choices(path, where, value.get("choices")))
        yield item


def _task_text(path: Path, where: str, data: dict) -> str:
    text = data.get("text")
    if text is None:
        strings = [value for value in data.values() if isinstance(value, str)]
        text = strings[0] if len(strings) == 1 else None
    if not isinstance(text, str) or not text.strip():
        raise RecipeError(Errors.E032.format(path=path, where=where, reason="a task without text ('data.text')"))
    return text


def _span(path: Path, where: str, text: str, value: dict) -> list:
    """A labels result's value as [start, end, label]."""
    labels = value.get("labels")
    if not (isinstance(labels, list) and len(labels) == 1):
        reason = f"span {value.get('start')}-{value.get('end')} has labels {labels!r}: an entity takes one label"
        raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
    start, end = value.get("start"), value.get("end")
    shown = value.get("text")
    if isinstance(start, int) and isinstance(end, int) and isinstance(shown, str) and text[start:end] != shown:
        # Offsets in UTF-16 code units (the browser's), where the text holds characters beyond the BMP.
        units = [0]
        for char in text:
            units.append(units[-1] + (2 if ord(char) > 0xFFFF else 1))
        if start in units and end in units and text[units.index(start) : units.index(end)] == shown:
            start, end = units.index(start), units.index(end)
    return [start, end, labels[0]]


def _choices(path: Path, where: str, choices: Any) -> set[str]:
    if isinstance(choices, str):
        choices = [choices]
    if not isinstance(choices, list):
        raise RecipeError(Errors.E032.format(path=path, where=where, reason=f"choices {choices!r} are not a list"))
    return {check_label(path, where, choice) for choice in choices}


def _rows(path: Path) -> Iterator[_Item]:
    """JSON-MIN records or CSV/TSV rows, as (where, field → value) with JSON cells parsed."""
    if path.suffix.lower() in (".csv", ".tsv"):
        rows = table_rows(path, quoted_tsv=True)
        header_line, header = next(rows)
        names = [cell.strip() for cell in header]
        records: Iterator[tuple[str, dict]] = (
            (f"line {lineno}", dict(zip(names, cells, strict=False)))
            for lineno, cells in _same_width(path, rows, names)
        )
    else:
        records = ((f"record {i}", record) for i, record in enumerate(_load(path), start=1))
    for where, record in records:
        if not isinstance(record, dict):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="expected a JSON object"))
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="a row without text ('text')"))
        item = _Item(where, text, row=True)
        for name, value in record.items():
            if name in _ROW_FIELDS or name == "text":
                continue
            value = _cell(value)
            if isinstance(value, list) and all(isinstance(v, dict) and "start" in v for v in value) and value:
                item.entities = [*(item.entities or []), *(_span(path, where, text, v) for v in value)]
            elif isinstance(value, dict) and "choices" in value:
                item.choices.update(_choices(path, where, value["choices"]))
            elif isinstance(value, str) and value.strip():
                item.choices.add(check_label(path, where, value))
            elif value not in (None, "", []):
                reason = f"field {name!r} holds {value!r}: neither spans nor choices"
                raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        yield item


def _same_width(path: Path, rows: Iterator[tuple[int, list[str]]], names: list[str]) -> Iterator[tuple[int, list]]:
    for lineno, cells in rows:
        if len(cells) != len(names):
            reason = f"expected {len(names)} columns as in the header, got {len(cells)}"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        yield lineno, cells


def _cell(value: Any) -> Any:
    """A CSV cell holding JSON (a list of spans, {"choices": [...]}) as that value; anything else unchanged."""
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # refused as a category name by check_label
    return value
