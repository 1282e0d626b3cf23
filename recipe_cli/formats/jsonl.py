"""JSON Lines: one record per line.

- ``{"text": ..., "entities": [[start, end, label], ...]}``
- Prodigy: ``{"text": ..., "spans": [{"start", "end", "label"}], "tokens": [...], "answer": "accept"}``;
  records answered ``reject`` or ``ignore`` are skipped and counted.
- ``{"text": ..., "cats": {label: score}}``
- ``{"text": ..., "label": name}`` for exclusive classes: every label seen in the file becomes a category.
"""

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import Errors, RecipeError
from ._text import read_lines
from .spacy_json import check_entities

_SKIPPED_ANSWERS = ("reject", "ignore")


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecipeError(
                Errors.E026.format(path=path, line=lineno, reason=f"invalid JSON at column {e.colno}: {e.msg}")
            ) from None
        if not isinstance(record, dict):
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="expected a JSON object"))
        yield lineno, record


def read_jsonl(path: Path, nlp: Language, sents_per_doc: int) -> Iterator[Doc]:
    """Read a JSON Lines file of texts with entities, Prodigy spans, cats or one label each."""
    skipped = 0
    labels: list[str] | None = None
    for lineno, record in _records(path):
        if labels is None:
            # Exclusive labels (the first record tells) need a first pass: every label in the file becomes
            # a category of every text. Other files are read in one lazy pass.
            labels = _exclusive_labels(path) if _has_label(record) else []
        elif _has_label(record) and not labels:
            reason = "a 'label' record after records without one: give every record a 'label', or use 'cats'"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        if record.get("answer") in _SKIPPED_ANSWERS:
            skipped += 1
            continue
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="record without text"))
        doc = _tokens_doc(nlp, text, record["tokens"], path, lineno) if "tokens" in record else nlp.make_doc(text)
        entities = record.get("entities")
        if entities is None and "spans" in record:
            entities = [[s.get("start"), s.get("end"), s.get("label")] for s in record["spans"] if isinstance(s, dict)]
        if entities:
            doc.ents = check_entities(path, f"line {lineno}", doc, entities)
        if "cats" in record:
            if not isinstance(record["cats"], dict):
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="'cats' is not an object"))
            doc.cats = {str(k): float(v) for k, v in record["cats"].items()}
        elif "label" in record:
            doc.cats = {label: float(label == str(record["label"])) for label in labels}
        yield doc
    if skipped:
        warnings.warn(f"{path}: skipped {skipped} record(s) answered reject or ignore.", stacklevel=2)


def _has_label(record: dict[str, Any]) -> bool:
    return "label" in record and "cats" not in record


def _exclusive_labels(path: Path) -> list[str]:
    return sorted({str(r["label"]) for _, r in _records(path) if _has_label(r)})


def _tokens_doc(nlp: Language, text: str, tokens: Any, path: Path, lineno: int) -> Doc:
    """A Doc on Prodigy's tokens, so that spans given on them stay on token boundaries."""
    try:
        words = [t["text"] for t in tokens]
        spaces = [bool(t.get("ws", True)) for t in tokens]
    except (TypeError, KeyError):
        raise RecipeError(
            Errors.E026.format(path=path, line=lineno, reason="'tokens' must be objects with 'text'")
        ) from None
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    if doc.text != text:
        reason = "the tokens do not spell out the text (check their 'ws' flags)"
        raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
    return doc
