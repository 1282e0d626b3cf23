"""Helpers shared by the text-based readers."""

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import Errors, RecipeError

# Byte order marks of the encodings a text editor or spreadsheet may save in instead of UTF-8.
_OTHER_BOMS = {
    "UTF-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE),
    "UTF-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE),
}


def read_text(path: Path) -> str:
    """Read a UTF-8 text file (a byte order mark, as some tools write, left out; line ends made "\n"), naming the
    file, line and byte within the line of undecodable input."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RecipeError(Errors.E094.format(path=path, why=e.strerror or e)) from None
    try:
        text = raw.decode("utf8")
    except UnicodeDecodeError as e:
        lineno, line_start = raw.count(b"\n", 0, e.start) + 1, raw.rfind(b"\n", 0, e.start) + 1
        error = f"line {lineno}, byte {e.start - line_start}: {e.reason}"
        raise RecipeError(Errors.E023.format(path=path, error=_encoding_hint(raw) or error)) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _encoding_hint(raw: bytes) -> str:
    """What a file that starts with another encoding's byte order mark is, and what to do ("" for none)."""
    for name, boms in _OTHER_BOMS.items():
        if raw.startswith(boms):
            return f"{name} text, by its byte order mark: save it as UTF-8"
    return ""


def json_error(e: json.JSONDecodeError, *, line: bool = True) -> str:
    """Where JSON text breaks and why, as a whole phrase: json's messages that end in "at" ("Unterminated string
    starting at") are followed by the place, the others follow it.

    line: the place in a whole file ("line 2, column 3: ..."); False: a JSON Lines line's whole reason, the column
        only ("invalid JSON at column 3: ...").
    """
    if line:
        where = f"line {e.lineno}, column {e.colno}"
        return f"{e.msg} {where}" if e.msg.endswith(" at") else f"{where}: {e.msg}"
    if e.msg.endswith(" at"):
        return f"invalid JSON: {e.msg} column {e.colno}"
    return f"invalid JSON at column {e.colno}: {e.msg}"


def json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of every non-blank line of a JSON Lines file; each line must hold a JSON object."""
    for lineno, line in read_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            reason = json_error(e, line=False)
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
                    error = (lineno == 1 and _encoding_hint(raw)) or f"line {lineno}, byte {e.start}: {e.reason}"
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
