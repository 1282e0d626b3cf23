"""The registered corpus reader: every supported format, and a seeded held-out split."""

import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Corpus, Example
from spacy.util import registry

from .errors import Errors, RecipeError
from .formats import read_docs

PARTS = ("all", "train", "heldout")


@registry.readers("recipe.Corpus.v1")
def create_corpus_reader(
    *,
    path: Path | None,
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
    """Read training examples from any supported format (spacy.Corpus.v1's arguments, and more).

    path (Path): the data file.
    format (str): "auto" to detect from the file, or a format name (spacy, json, conllu, iob).
    sents_per_doc (int): sentences per example for token-per-line formats.
    holdout (float): share of the documents set aside as a seeded dev split (0 for none).
    part (str): "all", "train" (the documents not held out) or "heldout".
    seed (int): seed of the held-out split.
    gold_preproc, max_length, limit, augmenter: as in spacy.Corpus.v1.
    """
    if part not in PARTS:
        raise RecipeError(f"corpus part must be one of {', '.join(PARTS)}, not {part!r}")
    return RecipeCorpus(
        path,
        format=format,
        sents_per_doc=sents_per_doc,
        holdout=holdout,
        part=part,
        seed=seed,
        gold_preproc=gold_preproc,
        max_length=max_length,
        limit=limit,
        augmenter=augmenter,
    )


class RecipeCorpus(Corpus):
    """spaCy's Corpus over our format readers: Examples are made exactly as spaCy makes them."""

    def __init__(self, path: Path | None, *, format: str, sents_per_doc: int, holdout: float, part: str,
                 seed: int, **corpus_args) -> None:  # fmt: skip
        super().__init__(path if path is not None else Path(""), **corpus_args)
        self.format = format
        self.sents_per_doc = sents_per_doc
        self.holdout = holdout
        self.part = part
        self.seed = seed

    def __call__(self, nlp: Language) -> Iterator[Example]:
        docs = self.reference_docs(nlp)
        if self.gold_preproc:
            examples = self.make_examples_gold_preproc(nlp, docs)
        else:
            examples = self.make_examples(nlp, docs)
        for example in examples:
            yield from self.augmenter(nlp, example)  # type: ignore[operator]

    def reference_docs(self, nlp: Language) -> Iterator[Doc]:
        """The annotated documents of this corpus's part, in file order."""
        docs: Iterable[Doc] = read_docs(self.path, nlp, format=self.format, sents_per_doc=self.sents_per_doc)
        if self.holdout > 0 and self.part != "all":
            docs = self._split(list(docs))
        for i, doc in enumerate(docs):
            if self.limit >= 1 and i >= self.limit:
                break
            yield doc

    def _split(self, docs: list[Doc]) -> list[Doc]:
        if not docs:
            raise RecipeError(Errors.E028.format(path=self.path))
        heldout = heldout_indices(len(docs), self.holdout, self.seed)
        if not heldout:
            raise RecipeError(Errors.E030.format(path=self.path, n=len(docs)))
        keep = self.part == "heldout"
        return [doc for i, doc in enumerate(docs) if (i in heldout) == keep]


def heldout_indices(n: int, share: float, seed: int) -> set[int]:
    """Seeded choice of round(share * n) positions (at least 1, leaving at least 1), or none if n < 2."""
    if n < 2:
        return set()
    k = min(n - 1, max(1, round(share * n)))
    return set(random.Random(seed).sample(range(n), k))
