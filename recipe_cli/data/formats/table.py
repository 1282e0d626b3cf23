"""Text classification tables: TSV or CSV with a header naming the text column and the label column.

A label cell holds one label, or several separated by ",", ";" or "|" (multi-label). Every label seen in the
file becomes a category of every text: 1.0 where the row names it, else 0.0. TSV cells are read verbatim
(no CSV quoting: texts often hold quotes); CSV follows the usual quoting rules.
"""

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from ...errors import Errors, RecipeError
from ._text import read_text

TEXT_COLUMNS = ("text", "sentence", "content", "document", "body")
LABEL_COLUMNS = ("label", "labels", "category", "categories", "class", "intent")
_LABEL_SEPARATORS = re.compile(r"[,;|]")


def read_table(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a .tsv or .csv file of texts and labels into Docs with cats."""
    rows = list(table_rows(path, quoted_tsv=False))
    if not rows:
        raise RecipeError(Errors.E022.format(path=path))
    header = [cell.strip().lower() for cell in rows[0][1]]
    text_col = next((header.index(name) for name in TEXT_COLUMNS if name in header), None)
    label_col = next((header.index(name) for name in LABEL_COLUMNS if name in header), None)
    if text_col is None or label_col is None:
        reason = (
            f"the header must name a text column ({', '.join(TEXT_COLUMNS)}) and a label column "
            f"({', '.join(LABEL_COLUMNS)}); it holds {' '.join(', '.join(header).split())}"
        )
        raise RecipeError(Errors.E026.format(path=path, line=rows[0][0], reason=reason))
    records = []
    for lineno, cells in rows[1:]:
        if len(cells) != len(header):
            reason = f"expected {len(header)} columns as in the header, got {len(cells)}"
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason=reason))
        text = cells[text_col]
        labels = [label.strip() for label in _LABEL_SEPARATORS.split(cells[label_col]) if label.strip()]
        if not text.strip():
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="row without text"))
        if not labels:
            raise RecipeError(Errors.E026.format(path=path, line=lineno, reason="row without a label"))
        records.append((text, labels))
    categories = sorted({label for _, labels in records for label in labels})
    for text, labels in records:
        doc = nlp.make_doc(text)
        doc.cats = {label: float(label in labels) for label in categories}
        yield doc


def table_rows(path: Path, *, quoted_tsv: bool) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row of a .csv file, or of a .tsv file read verbatim (quoted_tsv
    False: a quote is text) or with CSV quoting and tabs (quoted_tsv True: as pandas writes a TSV file)."""
    text = read_text(path)
    tsv = path.suffix.lower() == ".tsv"
    if tsv and not quoted_tsv:
        # Lines end at "\n" only (read_text has turned "\r\n" into it): str.splitlines() would also break cells
        # at \x0b, \x1c or \u2028.
        for lineno, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                yield lineno, line.split("\t")
        return
    reader = csv.reader(io.StringIO(text), delimiter="\t" if tsv else ",")
    start = 1  # the line a row starts on: a quoted cell may span lines, and reader.line_num is the row's last
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as e:
        raise RecipeError(Errors.E026.format(path=path, line=start, reason=f"CSV: {e}")) from None
