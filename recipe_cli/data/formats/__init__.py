"""Readers for the training-data formats spaCy users bring, detected from the file.

Each reader turns one file into reference ``Doc`` objects and raises ``RecipeError``
with the file and, where it can, the line or record at fault. Readers take (path, nlp, sents_per_doc,
span_alignment); span_alignment (one of spans.ALIGNMENTS) is what the readers of annotation tools' character
offsets do with a span that cuts a token.

A file's format comes from its extension and, for the extensions that annotation tools share with other
formats (.json, .jsonl, .csv, .tsv, .txt), from its first record: doccano's and Label Studio's exports are told
apart from spaCy's own layouts and from plain tables by their keys and columns.
"""

import glob
import json
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError

# Lines of a text file, numbered, and where JSON text breaks: for readers outside this package (the raw texts of
# rehearsal).
from ._text import json_error as json_error  # noqa: E402
from ._text import read_lines as read_lines  # noqa: E402
from ._text import too_long_reason
from .conllu import read_conllu
from .docbin import read_docbin
from .doccano import is_doccano_record, is_fasttext, read_doccano
from .iob import read_iob
from .jsonl import read_jsonl, read_jsonl_lines
from .labelstudio import is_labelstudio_header, is_labelstudio_json, read_labelstudio
from .spacy_json import read_json
from .spans import ALIGNMENTS as ALIGNMENTS  # noqa: E402
from .table import read_table, table_rows

# doc.user_data key of the (file, document number) a reference document was read from, named in errors.
ORIGIN = "recipe_origin"

DocReader = Callable[[Path, Language, int, str], Iterator[Doc]]

# Format name → reader. Each reader takes (path, nlp, sents_per_doc, span_alignment).
FORMATS: dict[str, DocReader] = {
    "spacy": read_docbin,
    "json": read_json,
    "jsonl": read_jsonl,
    "conllu": read_conllu,
    "iob": read_iob,
    "table": read_table,
    "doccano": read_doccano,
    "labelstudio": read_labelstudio,
}

EXTENSIONS = {
    ".spacy": "spacy",
    ".json": "json",
    ".jsonl": "jsonl",
    ".conllu": "conllu",
    ".iob": "iob",
    ".bio": "iob",
    ".iob2": "iob",
    ".conll": "iob",
    ".tsv": "table",
    ".csv": "table",
}


def detect_format(path: Path) -> str:
    """Name the format of a data file from its extension and, where annotation tools share it, its content.

    path (Path): the data file.
    RETURNS (str): a key of FORMATS.
    """
    fmt = EXTENSIONS.get(path.suffix.lower())
    # Text that cannot be read (not UTF-8) is refused as such, not as a format that cannot be told.
    if path.suffix.lower() == ".txt" and path.is_file() and is_fasttext(_first_line(path, strict=True)):
        return "doccano"  # doccano's fastText export
    if fmt is None:
        raise RecipeError(Errors.E021.format(path=path))
    if not path.is_file() or path.stat().st_size == 0:
        return fmt
    if fmt == "json":
        with path.open(encoding="utf-8-sig", errors="replace") as file:
            start = file.read(1 << 16)
        if is_labelstudio_json(start):
            return "labelstudio"
        if start.lstrip().startswith("[") and '"paragraphs"' not in start and is_doccano_record(_first_object(path)):
            return "doccano"  # doccano's JSON export: a list of its JSONL records
    elif fmt == "jsonl":
        try:
            first = json.loads(_first_line(path))
        except (json.JSONDecodeError, RecipeError):
            return fmt  # the JSON Lines reader names the line
        if is_doccano_record(first):
            return "doccano"
    elif fmt == "table":
        try:
            header = next(table_rows(path, quoted_tsv=True), (0, []))[1]
        except RecipeError:
            return fmt
        if is_labelstudio_header(header):
            return "labelstudio"
        if {"id", "text", "label", "comments"} <= {cell.strip().lower() for cell in header}:
            return "doccano"  # doccano's CSV export (several labels joined by '#'), which always has Comments
    return fmt


def _first_line(path: Path, *, strict: bool = False) -> str:
    """The first non-blank line ("" where none, or where it cannot be read unless strict)."""
    try:
        return next((line for _, line in read_lines(path) if line.strip()), "")
    except RecipeError:
        if strict:
            raise
        return ""


def _first_object(path: Path) -> object:
    """The first record of a JSON list, or None where the file is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data[0] if isinstance(data, list) and data else None


def data_files(path: Path | str) -> list[Path]:
    """The files a data path names: the file itself, every data file below a folder, or a glob's matches.

    Folders are read recursively, in sorted order, keeping files whose extension names a format.
    """
    text = str(path)
    path = Path(path)
    if path.is_dir():
        files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
    elif any(char in text for char in "*?[") and not path.exists():
        files = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
    else:
        return [path]
    if not files:
        raise RecipeError(Errors.E033.format(path=text))
    return files


class Source(NamedTuple):
    """Where a document comes from: its file, and its position there (1 for the file's first document)."""

    path: Path
    index: int  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"{self.path} document {self.index}"


def read_docs(
    path: Path | str | Sequence[Path | str],
    nlp: Language,
    *,
    format: str = "auto",
    sents_per_doc: int = 1,
    span_alignment: str = "strict",
    label_config: Path | str | None = None,
) -> Iterator[Doc]:
    """Read reference Docs lazily from data files, folders of them or globs; formats may be mixed.

    path (Path): the data file, folder or glob pattern, or a list of them (read in order).
    nlp (Language): gives the vocab and, for raw text, the tokenizer.
    format (str): a key of FORMATS, or "auto" to detect it for each file.
    sents_per_doc (int): sentences grouped into one Doc by token-per-line formats.
    span_alignment (str): what to do with an annotation tool's span that cuts a token: "strict" (an error),
        "expand" or "contract" (snap it as Doc.char_span does).
    label_config (Path): a Label Studio project's labeling config, naming the annotation fields of its exports;
        None to recognise them by their shape.
    YIELDS (Doc): reference documents with the files' annotation, each tagged with its file and position there
        (see source()).
    """
    for each in [path] if isinstance(path, (str, Path)) else path:
        for file in data_files(each):
            yield from _read_file(file, nlp, format, sents_per_doc, span_alignment, label_config)


def source(doc: Doc) -> Source:
    """Where a Doc that read_docs yielded comes from (the tag _read_file put on it)."""
    name, index = doc.user_data[ORIGIN]
    return Source(Path(name), index)


def _read_file(path: Path, nlp: Language, format: str, sents_per_doc: int, span_alignment: str,
               label_config: Path | str | None = None) -> Iterator[Doc]:  # fmt: skip
    if not path.is_file():
        if path.exists():  # a named pipe, a device, a socket: there, but not a file to read twice
            what = "a named pipe (FIFO)" if path.is_fifo() else "a device or socket"
            raise RecipeError(Errors.E094.format(path=path, why=f"{what}, not a regular file: give a data file"))
        raise RecipeError(Errors.E020.format(path=path))
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise RecipeError(Errors.E057.format(name=fmt, options=", ".join(["auto", *FORMATS])))
    if path.stat().st_size == 0:
        raise RecipeError(Errors.E022.format(path=path))
    name = str(path)
    number = 0
    try:
        if fmt == "labelstudio":  # the one reader a labeling config tells anything
            docs = read_labelstudio(path, nlp, sents_per_doc, span_alignment, _config_path(label_config))
        else:
            docs = FORMATS[fmt](path, nlp, sents_per_doc, span_alignment)
        for number, doc in enumerate(docs, start=1):
            doc.user_data[ORIGIN] = (name, number)
            yield doc
    except ValueError as e:
        # A text the reader gave spaCy's tokenizer whole, over nlp.max_length (spaCy's E088).
        if isinstance(e, RecipeError):
            raise
        found = re.match(r"\[E088\] Text of length (\d+) exceeds maximum of (\d+)", str(e))
        if not found:
            raise
        reason = too_long_reason(*map(int, found.groups()))
        raise RecipeError(Errors.E032.format(path=path, where=f"document {number + 1}", reason=reason)) from None


def _config_path(label_config: Path | str | None) -> Path | None:
    """A labeling config path as a config gives it (None, "" or a path)."""
    if label_config is None or str(label_config) == "":
        return None
    path = Path(label_config)
    if not path.is_file():
        raise RecipeError(Errors.E020.format(path=path))
    return path


def locate(path: Path | str | Sequence[Path | str], nlp: Language, predicate: Callable[[Doc], bool], *,
           format: str = "auto", sents_per_doc: int = 1, span_alignment: str = "strict",
           label_config: Path | str | None = None) -> tuple[Path, str, Doc] | None:  # fmt: skip
    """The first document that predicate accepts: (file, "line N" (JSON Lines) or "document N", the Doc).

    Reads the files again, whole (no held-out split): for error messages, after the data has been read once.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reading already warned
        for each in [path] if isinstance(path, (str, Path)) else path:
            for file in data_files(each):
                fmt = detect_format(file) if format == "auto" else format
                if fmt == "jsonl":
                    found = ((f"line {n}", doc) for n, doc in read_jsonl_lines(file, nlp))
                else:
                    docs = _read_file(file, nlp, fmt, sents_per_doc, span_alignment, label_config)
                    found = ((f"document {n}", doc) for n, doc in enumerate(docs, start=1))
                for where, doc in found:
                    if predicate(doc):
                        return file, where, doc
    return None
