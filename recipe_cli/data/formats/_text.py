"""Helpers shared by the text-based readers."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import Errors, RecipeError


def read_text(path: Path) -> str:
    """Read a UTF-8 text file (a byte order mark, as some tools write, left out), naming the file and byte offset
    of undecodable input."""
    try:
        return path.read_text(encoding="utf8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise RecipeError(Errors.E023.format(path=path, error=f"byte {e.start}: {e.reason}")) from None
    except OSError as e:
        raise RecipeError(Errors.E094.format(path=path, why=e.strerror or e)) from None


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every non-blank line of a JSON Lines file; each line must hold a JSON object."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            reason = f"invalid JSON at column {e.colno}: {e.msg}"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason)) from None
        if not isinstance(record, dict):
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="expected a JSON object"))
        if lone_surrogate(line, record):
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=SURROGATE))
        yield lineno, record


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without its line break) lazily, one line in memory at a time.

    Undecodable bytes name the file, the line and the byte offset within the line.
    """
    try:
        with path.open("rb") as file:
            for lineno, raw in enumerate(file, start=1):
                try:
                    line = raw.decode("utf8")
                except UnicodeDecodeError as e:
                    error = f"line {lineno}, byte {e.start}: {e.reason}"
                    raise RecipeError(Errors.E023.format(path=path, error=error)) from None
                if lineno == 1:
                    line = line.removeprefix("\ufeff")
                yield lineno, line.rstrip("\r\n")
    except OSError as e:
        raise RecipeError(Errors.E094.format(path=path, why=e.strerror or e)) from None


def too_long(nlp: Any, text: str) -> str:
    """Why spaCy's tokenizer would refuse text (its E088, longer than nlp.max_length), or "" where it would not."""
    return too_long_reason(len(text), nlp.max_length) if len(text) > nlp.max_length else ""


def too_long_reason(length: int, limit: int) -> str:
    return f"a text of {length:,} characters, over spaCy's limit of {limit:,} (nlp.max_length): split it into shorter texts"


# Why a JSON value holding a lone surrogate is refused.
SURROGATE = "a \\ud800-\\udfff escape that is not half of a surrogate pair (no character)"


def lone_surrogate(raw: str, value: Any) -> bool:
    """Whether a value parsed from the JSON text raw holds a lone surrogate: valid JSON ("\\ud800"), but no
    character, which spaCy cannot encode. Only text with such an escape is checked."""
    if "\\ud" not in raw and "\\uD" not in raw:
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf8")
    except UnicodeEncodeError:
        return True
    return False


def group_sentences(sentences: Iterator[list], n: int) -> Iterator[list[list]]:
    """Group consecutive sentences into lists of at most n."""
    group: list[list] = []
    for sent in sentences:
        group.append(sent)
        if len(group) >= max(1, n):
            yield group
            group = []
    if group:
        yield group
