"""Label Studio's exports of text projects, as Label Studio 1.x writes them.

The annotations are the values of the project's control tags (``<Labels name=...>`` spans, ``<Choices name=...>``
choices); the task's data fields (the text, and whatever else was imported with it: ids, sources, numbers, a
``meta`` object) are never annotations.

- JSON: a list of tasks ``{"id", "data": {"text", ...}, "annotations": [{"id", "result": [...], "was_cancelled",
  "updated_at", ...}], "predictions": [...]}``. A result of ``"type": "labels"`` is an entity (``value.start``,
  ``value.end``, ``value.labels``); one of ``"type": "choices"`` gives categories (``value.choices``). Other
  results (relations, text areas, ratings) are not read, nor is anything in ``data`` but the text. Predictions
  are a model's suggestions, not training data: never read. A task whose every annotation was cancelled (skipped
  in the labelling view), and a task nobody annotated, is skipped; the warning counts the tasks of each kind.
  **A task annotated by several people is read from its most recently updated completed annotation**
  (``updated_at``, then ``created_at``, then the higher id); the summary counts such tasks.
- JSON-MIN, CSV and TSV: one flat row per completed annotation (a task annotated twice is two rows, cancelled
  ones are dropped): the task's data fields (``text``, and every other imported field) beside Label Studio's own
  (``id``, ``annotator``, ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time``) and one field per
  control tag, named after it: a list of ``{"start", "end", "labels"}`` for a ``<Labels>`` tag,
  ``{"choices": [...]}`` for several choices, or the choice itself as a string. In CSV/TSV the lists and objects
  are JSON text in a cell. A field is an annotation by its shape: spans, or a ``{"choices": [...]}`` in any row
  (then the plain names in its other rows are single choices). A field holding nothing but plain values is task
  data or a single-choice ``<Choices>`` tag, which look the same: given the project's labeling config
  (``label_config``), its control tags name the annotation fields; without it, such fields are read as data with
  a warning, or, where the file has no other annotation, refused with a request for the config. The summary
  counts the rows whose text repeats an earlier row's.
- CoNLL2003 (``.conll``) is read by the IOB reader.

Offsets are those of the text as Python counts characters; offsets counted in UTF-16 units (as the labelling
view's JavaScript counts them, two per emoji) are recognised when the result's ``value.text`` shows it. Spans are
read with ``spans.entity_spans`` (whitespace trimmed, tokens cut refused or snapped). Every category seen in the
file is a category of every text that has one: 1.0 where chosen, else 0.0; a text without a choice leaves its
categories missing.
"""

import json
import warnings
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

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
# Label Studio's own fields of a JSON-MIN/CSV row: neither task data nor a control tag's result.
_ROW_FIELDS = {"id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time"}
# Control tags whose results are read: <Labels> → entities, <Choices> → categories.
_SPANS, _CHOICES = "labels", "choices"


class LabelConfig(NamedTuple):
    """What a Label Studio labeling config says about an export: the data field holding the text, and the names
    of its <Labels> and <Choices> control tags (the annotation fields of a JSON-MIN, CSV or TSV row)."""

    path: Path
    text: str
    spans: frozenset[str]
    choices: frozenset[str]


def read_label_config(path: Path) -> LabelConfig:
    """Read a labeling config (the XML of a project's Settings > Labeling Interface, or of its export).

    The control tags are the elements with a ``toName``; the text is the data field (``value="$text"``) of the
    object tag that its <Labels> or <Choices> tags point at.
    """
    try:
        root = ElementTree.fromstring(read_text(path))
    except ElementTree.ParseError as e:
        raise RecipeError(Errors.E120.format(path=path, reason=f"invalid XML ({e})")) from None
    objects = {el.get("name"): el.get("value", "") for el in root.iter() if el.get("name") and not el.get("toName")}
    controls = [el for el in root.iter() if el.get("name") and el.get("toName")]
    read = [el for el in controls if el.tag.lower() in (_SPANS, _CHOICES)]
    if not read:
        found = ", ".join(f"<{el.tag} name={el.get('name')!r}>" for el in controls) or "none"
        reason = f"it has no <Labels> or <Choices> tag to read (control tags: {found})"
        raise RecipeError(Errors.E120.format(path=path, reason=reason))
    fields = []
    for el in read:
        for target in (el.get("toName") or "").split(","):
            value = objects.get(target.strip(), "")
            if not value.startswith("$"):
                reason = f'<{el.tag} name={el.get("name")!r}> points at {target!r}, not a tag with value="$field"'
                raise RecipeError(Errors.E120.format(path=path, reason=reason))
            if value[1:] not in fields:
                fields.append(value[1:])
    if len(fields) > 1:
        reason = f"its tags annotate several data fields ({', '.join(fields)}): recipe-train reads one text per task"
        raise RecipeError(Errors.E120.format(path=path, reason=reason))
    names = {
        kind: frozenset(str(el.get("name")) for el in read if el.tag.lower() == kind) for kind in (_SPANS, _CHOICES)
    }
    return LabelConfig(path, fields[0], names[_SPANS], names[_CHOICES])


def read_labelstudio(
    path: Path, nlp: Language, sents_per_doc: int, span_alignment: str, label_config: Path | None = None
) -> Iterator[Doc]:
    """Read a Label Studio JSON, JSON-MIN, CSV or TSV export (see the module docstring).

    label_config (Path): the project's labeling config, naming the annotation fields of a row export; None to
        recognise them by their shape.
    """
    config = read_label_config(label_config) if label_config is not None else None
    skipped: Counter = Counter()
    tasks = _load(path) if _is_full_export(path) else []
    items = list(_tasks(path, tasks, config, skipped) if tasks else _rows(path, config))
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
        n = sum(skipped.values())
        warnings.warn(Warnings.W021.format(path=path, n=n, total=len(tasks), counts=counts), stacklevel=2)


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


def _tasks(path: Path, tasks: list, config: LabelConfig | None, skipped: Counter) -> Iterator[_Item]:
    """The tasks read, each from its latest completed annotation; skipped counts the tasks left out, by why."""
    for i, task in enumerate(tasks, start=1):
        where = f"task {task['id']} (record {i})" if isinstance(task, dict) and "id" in task else f"record {i}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="a task without 'data'"))
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="'annotations' is not a list"))
        text = _task_text(path, where, task["data"], config)
        completed = [a for a in annotations if not a.get("was_cancelled")]
        if not completed:
            skipped[
                "with every annotation cancelled (skipped in the labelling view)" if annotations else "never annotated"
            ] += 1
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
            if kind is None and config is not None:  # a result without a type: its control tag's
                name = result.get("from_name")
                kind = _SPANS if name in config.spans else _CHOICES if name in config.choices else None
            if kind is None:  # a result without a type: what its value holds
                kind = next((key for key in (_SPANS, _CHOICES) if key in value), None)
            if kind == _SPANS:
                item.entities = [*(item.entities or []), _span(path, where, item.text, value)]
            elif kind == _CHOICES:
                item.choices.update(_choices(path, where, value.get("choices")))
        yield item


def _task_text(path: Path, where: str, data: dict, config: LabelConfig | None) -> str:
    """The task's text: the data field the labeling config names, else 'text', else its only string."""
    field = config.text if config is not None else "text"
    text = data.get(field)
    if text is None and config is None:
        strings = [value for value in data.values() if isinstance(value, str)]
        text = strings[0] if len(strings) == 1 else None
    if not isinstance(text, str) or not text.strip():
        reason = f"a task without text ('data.{field}')"
        if config is None and "text" not in data and len([v for v in data.values() if isinstance(v, str)]) > 1:
            reason += ": pass the project's labeling config (--label-config) to name the text's field"
        raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
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


def _rows(path: Path, config: LabelConfig | None) -> Iterator[_Item]:
    """JSON-MIN records or CSV/TSV rows, each read from its annotation fields (see the module docstring)."""
    records = list(_records(path))
    text_field = config.text if config is not None else "text"
    for where, record in records:
        if not isinstance(record, dict):
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="expected a JSON object"))
        text = record.get(text_field)
        if not isinstance(text, str) or not text.strip():
            reason = f"a row without text ('{text_field}')"
            if config is None and text_field not in record:
                reason += ": pass the project's labeling config (--label-config) to name the text's field"
            raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
    kinds = _config_fields(path, records, config) if config is not None else _shaped_fields(path, records)
    for where, record in records:
        text = record[text_field]
        item = _Item(where, text, row=True)
        for name, kind in kinds.items():
            value = _cell(record.get(name))
            if value in (None, "", []):
                continue
            if kind == _SPANS and _is_spans(value):
                item.entities = [*(item.entities or []), *(_span(path, where, text, v) for v in value)]
            elif kind == _CHOICES and isinstance(value, dict) and "choices" in value:
                item.choices.update(_choices(path, where, value["choices"]))
            elif kind == _CHOICES and isinstance(value, (str, list)):
                item.choices.update(_choices(path, where, value))
            else:
                if isinstance(value, str):
                    check_label(path, where, value)  # JSON cut short: named as such
                what = "spans" if kind == _SPANS else "choices"
                reason = f"field {name!r} holds {value!r}: expected {what}, as in its other rows or the labeling config"
                raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        yield item


def _records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record) of JSON-MIN records or CSV/TSV rows (field → cell)."""
    if path.suffix.lower() not in (".csv", ".tsv"):
        yield from ((f"record {i}", record) for i, record in enumerate(_load(path), start=1))
        return
    rows = table_rows(path, quoted_tsv=True)
    header_line, header = next(rows)
    names = [cell.strip() for cell in header]
    for lineno, cells in _same_width(path, rows, names):
        yield f"line {lineno}", dict(zip(names, cells, strict=False))


def _config_fields(path: Path, records: list, config: LabelConfig) -> dict[str, str]:
    """The annotation fields the labeling config names (field → _SPANS or _CHOICES); the file must hold one."""
    kinds = {**dict.fromkeys(config.choices, _CHOICES), **dict.fromkeys(config.spans, _SPANS)}
    present = {name for _, record in records for name in record}
    if records and not present & set(kinds):
        reason = (
            f"the labeling config {config.path} names the fields {', '.join(sorted(kinds))}, and the file holds none "
            f"of them (its fields: {', '.join(sorted(present))}): is it this project's config?"
        )
        raise RecipeError(Errors.E031.format(path=path, reason=reason))
    return kinds


def _shaped_fields(path: Path, records: list) -> dict[str, str]:
    """The annotation fields recognised by their values (field → _SPANS or _CHOICES): spans in any row, or a
    {"choices": [...]} in any row. Fields of nothing but plain values are data or single choices: warned of, or
    refused where nothing else in the file is an annotation."""
    values: dict[str, list] = {}
    for _, record in records:
        for name, value in record.items():
            if name not in _ROW_FIELDS and name != "text":
                values.setdefault(name, []).append(_cell(value))
    kinds: dict[str, str] = {}
    plain: list[str] = []
    for name, column in values.items():
        column = [value for value in column if value not in (None, "", [])]
        if any(_is_spans(value) for value in column):
            kinds[name] = _SPANS
        elif any(isinstance(value, dict) and "choices" in value for value in column):
            kinds[name] = _CHOICES
        elif any(isinstance(value, str) and value.strip()[:1] in ("[", "{") for value in column):
            kinds[name] = _CHOICES  # JSON cut short (a broken cell): refused as a category name, naming the row
        elif column and all(isinstance(value, str) for value in column):
            plain.append(name)
    if plain:
        fields = ", ".join(repr(name) for name in plain)
        if not kinds:
            verb = "holds" if len(plain) == 1 else "hold"
            raise RecipeError(Errors.E121.format(path=path, fields=fields, verb=verb))
        warnings.warn(Warnings.W020.format(path=path, fields=fields), stacklevel=3)
    return kinds


def _is_spans(value: Any) -> bool:
    """A <Labels> tag's value in a row: a list of {"start", "end", "labels"}."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and {"start", "end", "labels"} <= set(v) for v in value)
    )


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
