"""CoNLL-U files (Universal Dependencies): words, lemmas, UPOS, XPOS, features, heads, relations.

Multi-word token ranges (``3-4``) give the spacing of their syntactic words; empty nodes
(``8.1``) are skipped. The mapping follows spaCy's own converter: the ``root`` relation becomes
``ROOT`` and a missing XPOS falls back to the UPOS.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError
from ._text import group_sentences, read_lines

_FIELDS = ("words", "spaces", "lemmas", "pos", "tags", "morphs", "heads", "deps")


def _token_rows(path: Path) -> Iterator[list[tuple[int, list[str]]]]:
    sent: list[tuple[int, list[str]]] = []
    for lineno, line in read_lines(path):
        if not line.strip():
            if sent:
                yield sent
            sent = []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if len(cols) != 10:
                reason = f"expected 10 tab-separated columns, got {len(cols)}"
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
            sent.append((lineno, cols))
    if sent:
        yield sent


def _parse_sentence(path: Path, rows: list[tuple[int, list[str]]]) -> dict[str, Any]:
    sent: dict[str, Any] = {field: [] for field in _FIELDS}
    lines: list[int] = []
    mwt_end, mwt_space = -1, True
    for lineno, (id_, form, lemma, upos, xpos, feats, head, deprel, _deps, misc) in rows:
        if "." in id_:
            continue
        if "-" in id_:
            mwt_end, mwt_space = _int(id_.split("-")[1], path, lineno), "SpaceAfter=No" not in misc
            continue
        idx = _int(id_, path, lineno)
        if idx != len(sent["words"]) + 1:
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=f"token id {id_} out of sequence"))
        if idx < mwt_end:
            space = False
        elif idx == mwt_end:
            space = mwt_space
        else:
            space = "SpaceAfter=No" not in misc
        lines.append(lineno)
        sent["words"].append(form)
        sent["spaces"].append(space)
        # "_" marks a missing value, except as the lemma of the word "_" itself.
        sent["lemmas"].append(lemma if lemma != "_" or form == "_" else None)
        sent["pos"].append(upos if upos != "_" else None)
        sent["tags"].append(xpos if xpos != "_" else sent["pos"][-1])
        sent["morphs"].append(feats if feats != "_" else ("" if upos != "_" else None))
        sent["heads"].append(_int(head, path, lineno) if head != "_" else None)
        sent["deps"].append(("ROOT" if deprel == "root" else deprel) if deprel != "_" else None)
    n = len(sent["words"])
    if mwt_end > n:
        reason = f"the sentence ends at word {n}, inside a multiword token that ends at word {mwt_end}"
        raise RecipeError(Errors.E026.format(path=path, line=rows[-1][0], reason=reason))
    for i, (head, lineno) in enumerate(zip(sent["heads"], lines, strict=True)):
        if head is None:
            continue
        if not 0 <= head <= n:
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=f"head {head} outside the sentence"))
        sent["heads"][i] = i if head == 0 else head - 1
    sent["line"] = rows[0][0]
    return sent


def _int(value: str, path: Path, lineno: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=f"{value!r} is not a number")) from None


def read_conllu(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a CoNLL-U file into Docs of `sents_per_doc` sentences each."""
    sentences = (_parse_sentence(path, rows) for rows in _token_rows(path))
    for group in group_sentences(sentences, sents_per_doc):  # type: ignore[arg-type]
        doc: dict[str, list] = {field: [] for field in _FIELDS}
        for sent in group:
            offset = len(doc["words"])
            for field in _FIELDS:
                values = sent[field]  # type: ignore[call-overload]
                if field == "heads":
                    values = [None if h is None else h + offset for h in values]
                doc[field].extend(values)
        try:
            yield Doc(nlp.vocab, **_present(doc))  # type: ignore[arg-type]
        except ValueError as e:
            raise RecipeError(Errors.E026.format(path=path, line=group[0]["line"], reason=str(e))) from None  # type: ignore[call-overload]


def _present(doc: dict[str, list]) -> dict[str, list]:
    """Keep the annotation layers the file gives; a layer given for some tokens only is filled in as empty."""
    kept = {}
    for field, values in doc.items():
        if all(v is None for v in values):
            continue
        if field == "heads":
            values = [i if v is None else v for i, v in enumerate(values)]
        else:
            values = ["" if v is None else v for v in values]
        kept[field] = values
    if ("heads" in kept) != ("deps" in kept):
        kept.pop("heads", None)
        kept.pop("deps", None)
    return kept
