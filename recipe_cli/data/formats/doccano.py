"""doccano's exports, as doccano 1.8 writes them (its ``data_export`` formatters).

- JSONL, sequence labelling: ``{"id", "text", "label": [[start, end, TAG], ...]}`` (``labels`` in older releases).
- JSONL, a sequence labelling project with relations: ``{"id", "text", "entities": [{"id", "label",
  "start_offset", "end_offset"}], "relations": [{"id", "from_id", "to_id", "type"}]}``. The entities are read;
  relations are counted as unused (recipe-train trains no relation component).
- JSONL or JSON (a list of the same records), text classification: ``{"id", "text", "label": [names]}``; several
  names make multi-label categories. Intent detection: ``{"id", "text", "cats": [names], "entities": [[start,
  end, TAG]]}``.
- CSV, text classification: ``id,text,label`` with several labels joined by ``#`` (``OTHER#baking``).
- fastText: ``__label__A __label__B text`` on a line, quoted as CSV where the text holds a comma, a quote or a
  line break (doccano writes it with pandas' CSV writer), comments after it as ``__comment__`` words (dropped).

Every category seen in the file is a category of every text that has one: 1.0 where the record names it, else
0.0. A record without a category (a text nobody labelled) leaves its categories missing: it teaches the
classifier nothing. In a sequence labelling file, a record without spans has no entities (every token outside
one), as in doccano's own view of it. Spans are read with ``spans.entity_spans`` (whitespace trimmed, tokens cut
refused or snapped). ``Comments`` and other keys are ignored.
"""

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError, Warnings
from ._text import json_error, json_lines, read_lines, read_text
from .spans import check_label, entity_spans
from .table import table_rows

_FASTTEXT_LABEL = "__label__"
_COMMENT = "__comment__"
# A fastText line: its __label__ words, then the text.
_FASTTEXT_LINE = re.compile(r"((?:__label__\S+\s+)+)(.*)", re.DOTALL)


def read_doccano(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read any doccano text export (see the module docstring), telling them apart by their content."""
    records = list(_records(path))
    if not records:
        raise RecipeError(Errors.E028.format(path=path))
    categories = sorted({label for where, record in records for label in _categories(path, where, record)})
    spans = any(_entities(record) is not None for where, record in records)
    relations = 0
    for where, record in records:
        text = record.get("text", record.get("data"))
        if not isinstance(text, str) or not text.strip():
            raise RecipeError(Errors.E032.format(path=path, where=where, reason="record without text"))
        doc = nlp.make_doc(text)
        if spans:
            doc.ents = entity_spans(path, where, doc, _entities(record) or [], span_alignment)
        chosen = _categories(path, where, record)
        if chosen:
            doc.cats = {label: float(label in chosen) for label in categories}
        if isinstance(record.get("relations"), list):
            relations += len(record["relations"])
        yield doc
    if relations:
        warnings.warn(Warnings.W010.format(path=path, n=relations), stacklevel=2)


def is_doccano_record(record: Any) -> bool:
    """Whether a JSON record has doccano's shape: a list-valued 'label' or 'labels', 'cats' as a list of names, or
    entities with 'start_offset' (the relation project's)."""
    if not isinstance(record, dict):
        return False
    if any(isinstance(record.get(key), list) for key in ("label", "labels")):
        return True
    if isinstance(record.get("cats"), list) and all(isinstance(c, str) for c in record["cats"]):
        return True
    entities = record.get("entities")
    return isinstance(entities, list) and any(isinstance(e, dict) and "start_offset" in e for e in entities)


def is_fasttext(line: str) -> bool:
    """Whether a line is a fastText record (quoted where doccano's CSV writer quotes it)."""
    return line.lstrip('"').startswith(_FASTTEXT_LABEL)


def _records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of every record: JSON Lines, a JSON list, CSV, or fastText lines."""
    first = next((line for _, line in read_lines(path) if line.strip()), "")
    if path.suffix.lower() == ".txt" or is_fasttext(first):
        yield from _fasttext_records(path)
    elif path.suffix.lower() == ".csv":
        yield from _csv_records(path)
    elif first.lstrip().startswith("["):
        text = read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise RecipeError(Errors.E024.format(path=path, error=json_error(e))) from None
        # The first non-blank line starts with "[": the text, once parsed, is a list.
        for i, record in enumerate(data, start=1):
            if not isinstance(record, dict):
                raise RecipeError(Errors.E025.format(path=path, record=i, reason="expected a JSON object"))
            yield f"record {i}", record
    else:
        for lineno, record in json_lines(path):
            yield f"line {lineno}", record


def _csv_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    rows = table_rows(path, quoted_tsv=True)
    header_line, header = next(rows)
    names = [cell.strip().lower() for cell in header]
    if "text" not in names or "label" not in names:
        reason = f"a doccano CSV export has 'text' and 'label' columns; the header holds {', '.join(names)}"
        raise RecipeError(Errors.E026.format(path=path, line=header_line, reason=reason))
    for lineno, cells in rows:
        if len(cells) != len(names):
            reason = f"expected {len(names)} columns as in the header, got {len(cells)}"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        row = dict(zip(names, cells, strict=True))
        labels = [label for label in row["label"].split("#") if label.strip()]
        yield f"line {lineno}", {"text": row["text"], "label": labels}


def _fasttext_records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """fastText lines, as doccano writes them: pandas' CSV of one column, so that a text holding a comma, a quote
    or a line break is quoted (and spans lines); its comments follow the text as __comment__ words."""
    for lineno, cells in table_rows(path, quoted_tsv=True):
        line = ",".join(cells)
        match = _FASTTEXT_LINE.match(line + " ")
        if match is None:
            if line.strip() and not line.startswith(" "):
                reason = f"expected __label__ words, then the text, got {line[:40]!r}"
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
            labels, text = [], line  # a text nobody labelled
        else:
            labels = [word.removeprefix(_FASTTEXT_LABEL) for word in match.group(1).split()]
            text = match.group(2)
        text = f" {text}".split(f" {_COMMENT}")[0].strip()  # comments follow the text, or stand for it
        yield f"line {lineno}", {"text": text, "label": labels}


def _entities(record: dict[str, Any]) -> list | None:
    """The record's spans as [start, end, label] triples, or None where it holds category labels only."""
    entities = record.get("entities")
    if isinstance(entities, list):
        triples = []
        for ent in entities:
            if isinstance(ent, dict):
                ent = [ent.get("start_offset"), ent.get("end_offset"), ent.get("label")]
            triples.append(ent)
        return triples
    for key in ("label", "labels"):
        value = record.get(key)
        if isinstance(value, list) and value and all(isinstance(v, (list, tuple)) for v in value):
            return value
    return None


def _categories(path: Path, where: str, record: dict[str, Any]) -> set[str]:
    """The category names a record gives: 'label'/'labels' as a name or a list of names, or 'cats'."""
    names: set[str] = set()
    for key in ("label", "labels", "cats"):
        value = record.get(key)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        if key != "cats" and values and all(isinstance(v, (list, tuple)) for v in values):
            continue  # spans
        for label in values:
            if isinstance(label, (list, tuple, dict)):
                reason = f"'{key}' mixes category names and spans: {value!r}"
                raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
            names.add(check_label(path, where, label))
    return names
