"""NER files with a BIO tag per token, in two layouts, told apart by their first line:

- token per line: a token in the first column, the tag in the last. A sentence ends at any line
  that is empty or holds only whitespace (WNUT17 separates most sentences with a line holding a
  single TAB). ``# ...`` comment lines are skipped, and UNER's IOB2 (``ID WORD TAG - annotator``,
  told by a first token line numbered 1) is read from its second and third columns;
- sentence per line: ``word|TAG word|TAG ...`` (or ``word|POS|TAG``, the tag last), as spaCy's
  ``convert`` reads ``.iob`` files.

BILUO tags are read too; an ``I-`` tag that does not continue an entity of its type starts a new one.
"""

import itertools
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError, Warnings
from ._text import group_sentences, read_lines

# BILUO prefixes folded onto BIO: U- starts (and ends) an entity, L- continues one.
_PREFIXES = {"B": "B", "I": "I", "U": "B", "L": "I", "S": "B", "E": "I"}


def _is_sentence_per_line(first: str) -> bool:
    parts = first.split()
    return len(parts) >= 2 and all("|" in part for part in parts)


def _piped_sentences(
    lines: Iterable[tuple[int, str]], path: Path, counts: dict[str, int]
) -> Iterator[list[tuple[str, str]]]:
    for lineno, line in lines:
        if not line.strip() or line.startswith("-DOCSTART-"):
            continue
        sent: list[tuple[str, str]] = []
        prev = "O"
        for token in line.split():
            word, sep, tag = token.rpartition("|")
            if not sep or not word:
                reason = f"expected word|TAG, got {token!r}"
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
            word = word.split("|")[0]  # word|POS|TAG: the word comes first, the tag last
            if not word:
                raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=f"no word in {token!r}"))
            prev = _normalise_tag(tag, prev, path, lineno, counts)
            sent.append((word, prev))
        yield sent


def _is_tag(value: str) -> bool:
    prefix, sep, label = value.partition("-")
    return value == "O" or bool(sep and label and prefix.upper() in _PREFIXES)


def _is_comment(line: str) -> bool:
    """A "# key = value" line (CoNLL-U style metadata, as in UNER), not a token starting with "#" and its tag."""
    if not line.startswith("#"):
        return False
    parts = line.split()
    # "#\tO", "#Paris\tB-LOC": a token starting with "#", and its tag.
    is_token = 2 <= len(parts) <= 4 and "=" not in parts and _is_tag(parts[-1])
    return not is_token


def _columns(first: str) -> tuple[int, int]:
    """Word and tag columns, from the first token line: ``ID WORD TAG ...`` (UNER's IOB2, the tag
    followed by annotation columns) when it starts with token number 1 and a tag in the third column;
    otherwise the word first and the tag last (middle columns such as POS or chunk tags are skipped)."""
    parts = first.split()
    if len(parts) >= 3 and parts[0] == "1" and _is_tag(parts[2]):
        return 1, 2
    return 0, -1


def _sentences(path: Path, counts: dict[str, int]) -> Iterator[list[tuple[str, str]]]:
    lines = read_lines(path)
    # The first line with content tells the layout; the lines before it are kept and read as usual.
    head: list[tuple[int, str]] = []
    for lineno, line in lines:
        head.append((lineno, line))
        if line.strip() and not line.startswith("-DOCSTART-") and not _is_comment(line):
            break
    lines = itertools.chain(head, lines)
    first = head[-1][1] if head else ""
    if _is_sentence_per_line(first):
        yield from _piped_sentences(lines, path, counts)
        return
    word_col, tag_col = _columns(first)
    sent: list[tuple[str, str]] = []
    prev = "O"
    for lineno, line in lines:
        if not line.strip():
            if sent:
                yield sent
            sent, prev = [], "O"
            continue
        parts = line.split()
        if parts[0] == "-DOCSTART-" or _is_comment(line):
            continue
        if len(parts) < 2 or (word_col == 1 and len(parts) < 3):
            reason = f"expected a token and a tag, got {line.strip()!r}"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        word, tag = parts[word_col], parts[tag_col]
        tag = _normalise_tag(tag, prev, path, lineno, counts)
        sent.append((word, tag))
        prev = tag
    if sent:
        yield sent


def _normalise_tag(tag: str, prev: str, path: Path, lineno: int, counts: dict[str, int]) -> str:
    if tag == "O":
        return tag
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix.upper() not in _PREFIXES:
        reason = f"unknown tag {tag!r} (expected O, or B-/I-/L-/U- followed by a label)"
        raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
    prefix = _PREFIXES[prefix.upper()]
    if prefix == "I" and prev.partition("-")[2] != label:  # after O, or an entity of another type
        counts["orphan"] += 1
        prefix = "B"
    return f"{prefix}-{label}"


def read_iob(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a token-per-line BIO/BILUO file into Docs of `sents_per_doc` sentences."""
    counts = {"orphan": 0}
    for group in group_sentences(_sentences(path, counts), sents_per_doc):
        words = [w for sent in group for w, _ in sent]
        tags = [t for sent in group for _, t in sent]
        starts = [i == 0 for sent in group for i in range(len(sent))]
        # No spaces given: spaCy marks the Doc's spacing as unknown and trains on these tokens as they are.
        yield Doc(nlp.vocab, words=words, ents=tags, sent_starts=starts)  # type: ignore[arg-type]
    if counts["orphan"]:
        warnings.warn(Warnings.W003.format(path=path, n=counts["orphan"]), stacklevel=2)
