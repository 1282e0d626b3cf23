"""The registered corpus reader: every supported format, read lazily, and a seeded held-out split.

The split is decided by a hash of each document's position and the seed, so it needs neither the
whole corpus in memory nor its size in advance: the same documents are held out on every pass.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Corpus, Example
from spacy.training.corpus import walk_corpus
from spacy.util import registry

from ..errors import Errors, RecipeError
from .formats import ALIGNMENTS, data_files, read_docs, source
from .oracle import ParseCheck

PARTS = ("all", "train", "heldout")
MIN_HOLDOUT = 1e-4


@registry.readers("recipe.Corpus.v2")
def create_corpus_reader(
    *,
    path: Path | list[Path] | None,
    format: str,
    sents_per_doc: int,
    span_alignment: str,
    holdout: float,
    part: str,
    seed: int,
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
    augmenter: Callable | None = None,
    label_config: str | None = None,
) -> Callable[[Language], Iterable[Example]]:
    """Read training examples from any supported format (spacy.Corpus.v1's arguments, and more).

    path (Path): the data file, folder or glob, or a list of them.
    format (str): "auto" to detect from the file, or a format name (spacy, json, conllu, iob, doccano...).
    sents_per_doc (int): sentences per example for token-per-line formats.
    span_alignment (str): an annotation tool's span that cuts a token: "strict" (an error naming the record),
        "expand" or "contract" (snapped to token boundaries as Doc.char_span's alignment_mode does).
    holdout (float): share of the documents set aside as a seeded dev split (0 for none).
    part (str): "all", "train" (the documents not held out) or "heldout".
    seed (int): seed of the held-out split.
    gold_preproc, max_length, limit, augmenter: as in spacy.Corpus.v1.
    label_config (str): a Label Studio project's labeling config (its XML file), naming the annotation fields of
        the project's exports; None to recognise them by their shape.
    """
    if part not in PARTS:
        raise RecipeError(Errors.E073.format(options=", ".join(PARTS), part=part))
    if not (holdout == 0 or MIN_HOLDOUT <= holdout < 1):
        raise RecipeError(Errors.E074.format(minimum=MIN_HOLDOUT, holdout=holdout))
    if span_alignment not in ALIGNMENTS:
        raise RecipeError(Errors.E076.format(options=", ".join(ALIGNMENTS), value=span_alignment))
    return RecipeCorpus(
        path,
        format=format,
        sents_per_doc=sents_per_doc,
        span_alignment=span_alignment,
        holdout=holdout,
        part=part,
        seed=seed,
        gold_preproc=gold_preproc,
        max_length=max_length,
        limit=limit,
        augmenter=augmenter,
        label_config=label_config,
    )


@registry.readers("recipe.Corpus.v1")
def create_corpus_reader_v1(
    *,
    path: Path | list[Path] | None,
    format: str,
    sents_per_doc: int,
    holdout: float,
    part: str,
    seed: int,
    gold_preproc: bool = False,
    max_length: int = 0,
    limit: int = 0,
    augmenter: Callable | None = None,
) -> Callable[[Language], Iterable[Example]]:
    """recipe.Corpus.v2 without span_alignment: a span that cuts a token is an error (saved configs of earlier
    runs name v1)."""
    return create_corpus_reader(path=path, format=format, sents_per_doc=sents_per_doc, span_alignment="strict",
                                holdout=holdout, part=part, seed=seed, gold_preproc=gold_preproc,
                                max_length=max_length, limit=limit, augmenter=augmenter)  # fmt: skip


class RecipeCorpus(Corpus):
    """spaCy's Corpus over our format readers: Examples are made exactly as spaCy makes them.

    parse_check (ParseCheck): when set, the examples of each document go through it before augmentation.
    """

    parse_check: ParseCheck | None = None

    def __init__(self, path: Path | list[Path] | None, *, format: str, sents_per_doc: int, holdout: float, part: str,
                 seed: int, span_alignment: str = "strict", label_config: str | None = None,
                 **corpus_args) -> None:  # fmt: skip
        super().__init__(path if path is not None else Path(""), **corpus_args)  # type: ignore[arg-type]
        self.format = format
        self.sents_per_doc = sents_per_doc
        self.span_alignment = span_alignment
        self.label_config = label_config
        self.holdout = holdout
        self.part = part
        self.seed = seed

    def __call__(self, nlp: Language) -> Iterator[Example]:
        make = self.make_examples_gold_preproc if self.gold_preproc else self.make_examples
        for position, doc in enumerate(self.reference_docs(nlp)):
            examples = list(make(nlp, [doc]))
            if self.parse_check is not None:
                examples = self.parse_check(position, source(doc), examples)
            for example in examples:
                yield from self.augmenter(nlp, example)

    def reference_docs(self, nlp: Language) -> Iterator[Doc]:
        """The annotated documents of this corpus's part, in file order, read lazily."""
        docs: Iterable[Doc] = read_docs(self.path, nlp, format=self.format, sents_per_doc=self.sents_per_doc,
                                        span_alignment=self.span_alignment,
                                        label_config=self.label_config)  # fmt: skip
        if self.holdout > 0 and self.part != "all":
            docs = split_docs(docs, self.holdout, self.seed, heldout=self.part == "heldout", path=self.path)
        for i, doc in enumerate(docs):
            if self.limit >= 1 and i >= self.limit:
                break
            yield doc


def corpus_files(corpus: object) -> list[Path]:
    """The files a corpus reader reads (absolute), in order: a recipe.Corpus's data files, folders and globs
    expanded; spaCy's Corpus's .spacy files; none for a reader that names no path."""
    path = getattr(corpus, "path", None)
    if path is None:
        return []
    if isinstance(corpus, RecipeCorpus):
        paths = path if isinstance(path, (list, tuple)) else [path]
        return [file.resolve() for each in paths for file in data_files(each)]
    if isinstance(corpus, Corpus):
        return [Path(file).resolve() for file in walk_corpus(path, ".spacy")]
    return []


def position_unit(position: int, seed: int) -> float:
    """A uniform number in [0, 1) fixed by a document's position and the seed."""
    digest = hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def first_heldout_position(share: float, seed: int) -> int:
    """The first position the hash holds out."""
    position = 0
    while position_unit(position, seed) >= share:
        position += 1
    return position


def split_docs(docs: Iterable[Doc], share: float, seed: int, *, heldout: bool, path: Path | None) -> Iterator[Doc]:
    """One side of the seeded split: a document is held out when its position's hash is below share.

    Streams: only the documents before the first held-out position are buffered, so that a
    corpus too small to reach it still holds out one document (the one with the smallest hash).
    """
    first = first_heldout_position(share, seed)
    pending: list[Doc] | None = []
    for i, doc in enumerate(docs):
        if pending is not None:
            if i < first:
                pending.append(doc)
                continue
            # The corpus reaches a held-out position: everything before it is training data.
            if not heldout:
                yield from pending
            pending = None
        if (position_unit(i, seed) < share) == heldout:
            yield doc
    if pending is None:
        return
    if not pending:
        raise RecipeError(Errors.E028.format(path=path))
    if len(pending) < 2:
        raise RecipeError(Errors.E030.format(path=path, n=len(pending)))
    chosen = min(range(len(pending)), key=lambda i: position_unit(i, seed))
    yield from (doc for i, doc in enumerate(pending) if (i == chosen) == heldout)


def heldout_count(n: int, share: float, seed: int) -> int:
    """How many of n documents the split holds out."""
    if n < 2:
        return 0
    if n <= first_heldout_position(share, seed):
        return 1
    return sum(position_unit(i, seed) < share for i in range(n))
