"""The two JSON layouts people call "data.json".

- spaCy v2's training format: a list of documents, each with ``paragraphs`` → ``sentences`` →
  ``tokens`` (``orth``, ``tag``, ``head``, ``dep``, ``ner``...), and optional ``cats``.
  Each paragraph becomes one Doc, as in spaCy v2 and ``spacy convert``.
- The classic list ``[[text, {"entities": [[start, end, label], ...], "cats": {...}}], ...]``
  of spaCy's v2 examples, read with spaCy's ``Example.from_dict``.
"""

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.training.example import _fix_legacy_dict_data, _parse_example_dict_data, annotations_to_doc
from spacy.training.gold_io import json_to_annotations

from ...errors import Errors, RecipeError, one_line
from ._text import SURROGATE, json_error, lone_surrogate, read_text, too_long

# What spaCy's converters raise on a value of the wrong type or range (a list for a tag, a negative head...).
_BAD_VALUE = (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError)


def read_json(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read either JSON layout, telling them apart by their first record."""
    data = _load(path)
    if not isinstance(data, list):
        raise RecipeError(Errors.E031.format(path=path, reason=f"top level is a {type(data).__name__}, not a list"))
    if not data:
        raise RecipeError(Errors.E028.format(path=path))
    first = data[0]
    if isinstance(first, dict) and "paragraphs" in first:
        yield from _read_v2(path, nlp, data)
    elif isinstance(first, (list, tuple)):
        yield from _read_classic(path, nlp, data)
    else:
        reason = "expected spaCy v2 documents with 'paragraphs' or [text, annotations] pairs"
        raise RecipeError(Errors.E031.format(path=path, reason=reason))


def _load(path: Path) -> Any:
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecipeError(Errors.E024.format(path=path, error=json_error(e))) from None
    if lone_surrogate(text, data):
        records = data if isinstance(data, list) else [data]
        bad = next(i for i, record in enumerate(records, start=1) if lone_surrogate(text, record))
        raise RecipeError(Errors.E025.format(path=path, record=bad, reason=SURROGATE))
    return data


def _read_v2(path: Path, nlp: Language, data: list) -> Iterator[Doc]:
    for i, json_doc in enumerate(data, start=1):
        if not isinstance(json_doc, dict) or "paragraphs" not in json_doc:
            raise RecipeError(Errors.E025.format(path=path, record=i, reason="document without 'paragraphs'"))
        problem = v2_problem(json_doc)
        if problem:
            reason = f"{problem} (spaCy v2's JSON training format): fix or remove this record"
            raise RecipeError(Errors.E025.format(path=path, record=i, reason=reason))
        try:
            for json_para in json_to_annotations(json_doc):
                tok_dict, doc_dict = _parse_example_dict_data(_fix_legacy_dict_data(json_para))
                doc = annotations_to_doc(nlp.vocab, tok_dict, doc_dict)
                _check_cats(path, i, doc)
                if len(doc):
                    yield doc
        except RecipeError:
            raise  # already one line naming the record (RecipeError is a ValueError)
        except _BAD_VALUE as e:
            raise RecipeError(Errors.E025.format(path=path, record=i, reason=one_line(e))) from None


def v2_problem(json_doc: dict[str, Any]) -> str:
    """What in a spaCy v2 document spaCy's converter would trip over (a missing key, a value of the wrong type, a
    head outside the paragraph), named by its place: "paragraph 1, sentence 2, token 3: ...". "" where nothing."""
    paragraphs = json_doc["paragraphs"]
    if not isinstance(paragraphs, list) or not all(isinstance(p, dict) for p in paragraphs):
        return "'paragraphs' must be a list of objects"
    for p, paragraph in enumerate(paragraphs, start=1):
        sentences = paragraph.get("sentences")
        if not isinstance(sentences, list) or not all(isinstance(s, dict) for s in sentences):
            return f"paragraph {p}: 'sentences' must be a list of objects"
        n_words = sum(len(s["tokens"]) for s in sentences if isinstance(s.get("tokens"), list))
        start = 0
        for s, sentence in enumerate(sentences, start=1):
            where = f"paragraph {p}, sentence {s}"
            tokens = sentence.get("tokens")
            if not isinstance(tokens, list):
                return f"{where}: no 'tokens' list"
            for t, token in enumerate(tokens):
                if not isinstance(token, dict) or not isinstance(token.get("orth"), str):
                    return f"{where}, token {t}: expected an object with an 'orth' string"
                head = token.get("head")
                if "head" in token and not (type(head) is int and 0 <= start + t + head < n_words):
                    return f"{where}, token {t}: 'head' {head!r} is not the offset of a token of the paragraph"
            for b, bracket in enumerate(sentence.get("brackets", []), start=1):
                ends = [bracket.get(key) for key in ("first", "last")] if isinstance(bracket, dict) else [None]
                if not all(type(end) is int and 0 <= end < len(tokens) for end in ends) or "label" not in bracket:
                    return f"{where}, bracket {b}: expected 'first' and 'last' token numbers and a 'label'"
            start += len(tokens)
    return ""


def _read_classic(path: Path, nlp: Language, data: list) -> Iterator[Doc]:
    for i, record in enumerate(data, start=1):
        if not (isinstance(record, (list, tuple)) and len(record) == 2 and isinstance(record[1], dict)):
            raise RecipeError(Errors.E025.format(path=path, record=i, reason="expected [text, {annotations}]"))
        text, annots = record
        if not isinstance(text, str) or not text.strip():
            raise RecipeError(Errors.E025.format(path=path, record=i, reason="record without text"))
        if too_long(nlp, text):
            raise RecipeError(Errors.E025.format(path=path, record=i, reason=too_long(nlp, text)))
        doc = nlp.make_doc(text)
        if "words" not in annots:
            check_entities(path, f"record {i}", doc, annots.get("entities", []))
        try:
            reference = Example.from_dict(doc, annots).reference
        except _BAD_VALUE as e:
            raise RecipeError(Errors.E025.format(path=path, record=i, reason=one_line(e))) from None
        _check_cats(path, i, reference)
        yield reference


def _check_cats(path: Path, record: int, doc: Doc) -> None:
    """Category scores must be numbers (spaCy's converters take any value)."""
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in doc.cats.values()):
        raise RecipeError(Errors.E025.format(path=path, record=record, reason="'cats' values must be numbers"))


def check_entities(path: Path, where: str, doc: Doc, entities: Any) -> list[Span]:
    """Entity offsets must fall on token boundaries and must not overlap (spaCy only warns).

    where (str): the record, e.g. "record 3" or "line 7", named in the error.
    RETURNS (List[Span]): the entities as spans of doc.
    """
    if not isinstance(entities, list):
        raise RecipeError(Errors.E032.format(path=path, where=where, reason="'entities' is not a list"))
    spans: list[Span] = []
    taken: set[int] = set()
    for ent in entities:
        if not (isinstance(ent, (list, tuple)) and len(ent) == 3):
            raise RecipeError(
                Errors.E032.format(path=path, where=where, reason=f"entity {ent!r} is not [start, end, label]")
            )
        start, end, label = ent
        if not isinstance(label, str) or not label:
            reason = f"entity {ent!r} has no label"
            raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        in_text = isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(doc.text)
        span = doc.char_span(start, end, label=label) if in_text else None
        if span is None:
            text = doc.text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
            reason = f"entity [{start}, {end}, {label!r}] ({text!r}) does not fall on token boundaries"
            raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        if taken.intersection(range(span.start, span.end)):
            reason = f"entity [{start}, {end}, {label!r}] ({span.text!r}) overlaps another entity"
            raise RecipeError(Errors.E032.format(path=path, where=where, reason=reason))
        taken.update(range(span.start, span.end))
        spans.append(span)
    return spans
