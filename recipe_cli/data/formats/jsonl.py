"""JSON Lines: one record per line.

- ``{"text": ..., "entities": [[start, end, label], ...]}``
- Prodigy: ``{"text": ..., "spans": [{"start", "end", "label"}], "tokens": [...], "answer": "accept"}``. Tokens
  without ``ws`` take their spaces from their ``start``/``end`` offsets. Records answered ``reject`` are skipped
  and counted (they reject a suggested span), as are those answered ``ignore``.
- ``{"text": ..., "cats": {label: score}}``
- ``{"text": ..., "label": name}`` for exclusive classes: every label seen in the file becomes a category.
- Prodigy's binary text classification, ``{"text": ..., "label": name, "answer": ...}``: ``accept`` is 1.0 for
  that label, ``reject`` 0.0 (a negative example), ``ignore`` is skipped and counted. Only the record's own label
  is known: other labels stay out of ``doc.cats`` (missing, not 0.0).

Entity annotation: a record's ``entities`` or ``spans`` are all its entities, so a record with an empty list,
or with neither key, is annotated with no entities (every token outside one), as Prodigy and spaCy's scorer
read it. Only a text classification record (``cats`` or ``label``) without either key leaves entities missing:
it says nothing about them.
"""

import math
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError, Warnings
from ._text import json_lines, too_long
from .spacy_json import check_entities

# Prodigy's answers on a binary text classification record: the category value they stand for (None: skipped).
_BINARY_ANSWERS = {"accept": 1.0, "reject": 0.0, "ignore": None}


def read_jsonl(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a JSON Lines file of texts with entities, Prodigy spans, cats or one label each."""
    for _, doc in read_jsonl_lines(path, nlp):
        yield doc


def read_jsonl_lines(path: Path, nlp: Language) -> Iterator[tuple[int, Doc]]:
    """(line number, Doc) for each record of a JSON Lines file that is read (see read_jsonl)."""
    skipped: Counter = Counter()
    labels: list[str] | None = None
    answers_on_labels = False
    for lineno, record in json_lines(path):
        if labels is None:
            # Prodigy's answers on labels (binary text classification): each answer is about its record's label.
            answers_on_labels = _has_label(record) and "answer" in record
            # Exclusive labels (the first record tells) need a first pass: every label in the file becomes
            # a category of every text. Other files are read in one lazy pass.
            labels = _exclusive_labels(path) if _is_exclusive(record) else []
            # Why a later {"text", "label"} record cannot join the file (never needed where this one is such a
            # record): the file starts with Prodigy's answers on a label, or with records without a 'label'.
            if _has_label(record):
                mixed = "a 'label' record without an 'answer' after Prodigy's answers: give every record an 'answer'"
            else:
                mixed = "a 'label' record after records without one: give every record a 'label', or use 'cats'"
        elif _is_exclusive(record) and not labels:
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=mixed))
        binary = _has_label(record) and "answer" in record
        if answers_on_labels and record.get("answer") in ("accept", "reject") and not binary and "cats" not in record:
            reason = (
                f"answered {record['answer']} without the 'label' it is about (the file holds Prodigy's answers on "
                "labels): give the record its label, or leave it out"
            )
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        if binary and not (isinstance(record["answer"], str) and record["answer"] in _BINARY_ANSWERS):
            reason = f"answer {record['answer']!r}: expected accept, reject or ignore"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        if record.get("answer") == "ignore" or (record.get("answer") == "reject" and not binary):
            skipped[record["answer"]] += 1
            continue
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="record without text"))
        if "tokens" not in record and too_long(nlp, text):
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=too_long(nlp, text)))
        doc = _tokens_doc(nlp, text, record["tokens"], path, lineno) if "tokens" in record else nlp.make_doc(text)
        entities = record.get("entities")
        if entities is None and "spans" in record:
            if not isinstance(record["spans"], list):
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="'spans' is not a list"))
            entities = [[s.get("start"), s.get("end"), s.get("label")] for s in record["spans"] if isinstance(s, dict)]
        if entities is None and not ("cats" in record or "label" in record):
            entities = []
        if entities is not None:
            # An empty list sets every token outside an entity: annotated, with no entities.
            doc.ents = check_entities(path, f"line {lineno}", doc, entities)
        if "cats" in record:
            if not isinstance(record["cats"], dict):
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="'cats' is not an object"))
            try:
                doc.cats = {str(k): float(v) for k, v in record["cats"].items()}
                if not all(map(math.isfinite, doc.cats.values())):
                    raise ValueError
            except (TypeError, ValueError):
                reason = "'cats' values must be numbers"
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason)) from None
        elif binary:
            doc.cats = {str(record["label"]): _BINARY_ANSWERS[record["answer"]]}  # type: ignore[dict-item]
        elif "label" in record:
            doc.cats = {label: float(label == str(record["label"])) for label in labels}
        yield lineno, doc
    if skipped:
        counts = " and ".join(f"{n} answered {answer}" for answer, n in sorted(skipped.items()))
        warnings.warn(Warnings.W002.format(path=path, n=sum(skipped.values()), counts=counts), stacklevel=2)


def _has_label(record: dict[str, Any]) -> bool:
    return "label" in record and "cats" not in record


def _is_exclusive(record: dict[str, Any]) -> bool:
    """A {"text", "label"} record without an answer: one of the file's exclusive classes."""
    return _has_label(record) and "answer" not in record


def _exclusive_labels(path: Path) -> list[str]:
    return sorted({str(r["label"]) for _, r in json_lines(path) if _is_exclusive(r)})


def _tokens_doc(nlp: Language, text: str, tokens: Any, path: Path, lineno: int) -> Doc:
    """A Doc on Prodigy's tokens, so that spans given on them stay on token boundaries.

    A token's space is its 'ws' flag; without one (older Prodigy exports), what its 'start'/'end' offsets leave
    between it and the next token (a space, or nothing); with neither, a space. Offsets, where given, must point at
    the token's text, and the tokens must spell out the text.
    """

    def fail(reason: str) -> RecipeError:
        return RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))

    if not isinstance(tokens, list) or not all(isinstance(t, dict) and isinstance(t.get("text"), str) and t["text"]
                                               for t in tokens):  # fmt: skip
        raise fail("'tokens' must be objects with a non-empty 'text'")
    if not tokens:
        raise fail("'tokens' is empty")
    offsets = []  # type: ignore[var-annotated]
    for i, token in enumerate(tokens):
        start, end = token.get("start"), token.get("end")
        if start is None and end is None:
            offsets.append(None)  # type: ignore[arg-type]
            continue
        valid = type(start) is int and type(end) is int and 0 <= start <= end <= len(text)
        if not (valid and text[start:end] == token["text"]):
            shown = token["text"] if len(token["text"]) <= 20 else token["text"][:20] + "..."
            raise fail(f"token {i} {shown!r} has offsets {start}-{end} that do not match the text")
        offsets.append((start, end))
    spaces = []
    for i, token in enumerate(tokens):
        if "ws" in token:
            spaces.append(bool(token["ws"]))
        elif offsets[i] is None:
            # Neither a flag nor offsets: words separated by spaces (the last one followed by one only if the text
            # ends with one), checked below.
            spaces.append(i + 1 < len(tokens) or text.endswith(" "))
        else:
            following = offsets[i + 1][0] if i + 1 < len(tokens) and offsets[i + 1] is not None else len(text)
            gap = text[offsets[i][1] : following]
            if gap not in ("", " ") and i + 1 < len(tokens):
                raise fail(f"token {i + 1} {tokens[i + 1]['text']!r} does not follow token {i} in the text "
                           f"(characters between them: {gap!r})")  # fmt: skip
            spaces.append(gap.startswith(" "))
    doc = Doc(nlp.vocab, words=[t["text"] for t in tokens], spaces=spaces)
    if doc.text != text:
        reason = "the tokens do not spell out the text (check their 'ws' flags and offsets)"
        raise fail(reason)
    return doc
