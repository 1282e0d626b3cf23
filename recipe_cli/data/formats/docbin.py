import itertools
from collections.abc import Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ...errors import Errors, RecipeError, one_line


def read_docbin(path: Path, nlp: Language, sents_per_doc: int, span_alignment: str) -> Iterator[Doc]:
    """Read a spaCy DocBin (.spacy) file, as spaCy's own Corpus does."""
    try:
        doc_bin = DocBin().from_disk(path)
    except Exception as e:  # msgpack, zlib and key errors all mean "not a DocBin"
        raise RecipeError(Errors.E027.format(path=path, error=one_line(e))) from None
    docs = doc_bin.get_docs(nlp.vocab)
    for number in itertools.count(1):
        try:
            doc = next(docs)
        except StopIteration:
            return
        except Exception as e:  # arrays that do not fit together: a damaged file
            raise RecipeError(Errors.E027.format(path=path, error=f"document {number}: {one_line(e)}")) from None
        if len(doc):
            yield doc
