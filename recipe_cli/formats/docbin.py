from collections.abc import Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..errors import Errors, RecipeError


def read_docbin(path: Path, nlp: Language, sents_per_doc: int) -> Iterator[Doc]:
    """Read a spaCy DocBin (.spacy) file, as spaCy's own Corpus does."""
    try:
        doc_bin = DocBin().from_disk(path)
    except Exception as e:  # msgpack, zlib and key errors all mean "not a DocBin"
        raise RecipeError(Errors.E027.format(path=path, error=f"{type(e).__name__}: {e}")) from None
    for doc in doc_bin.get_docs(nlp.vocab):
        if len(doc):
            yield doc
