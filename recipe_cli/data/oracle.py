"""Gold parses the parser cannot follow: found before training, and trained without.

spaCy's parser learns from its oracle: the moves that build the gold tree on the tokens the tokenizer
made. When no move leads there (a head cycle, say), spaCy stops training with E1031, or earlier with
"Found cycle in dependency graph" when it makes the tree projective. Each training document goes
through the oracle the first time it is read; a document it cannot follow keeps its other annotation
but loses its heads and labels, on that pass and on every later one (streamed corpora are read again
each epoch: the documents are known by their position in the corpus).

The oracle runs on a transition system with only the built-in labels: the gold labels the parser
lacks fall back to them, as in training, so whether a tree can be built does not depend on them,
and the check needs no initialised parser (and is cheaper: five moves instead of one per label).
"""

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language
from spacy.pipeline._parser_internals.arc_eager import ArcEager
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..errors import Errors, RecipeError, Warnings
from .formats import Source

# Documents named in the warning and the error.
SHOWN = 5
# The token annotation a Doc keeps when it loses its parse (with ENT_TYPE and ENT_KB_ID beside ENT_IOB).
_KEPT = ("TAG", "POS", "MORPH", "LEMMA", "SENT_START", "ENT_IOB")


@dataclass
class ParseCheck:
    """The training documents whose gold parse the parser's oracle cannot follow.

    Called with each document's position in the corpus, its source and its examples, in corpus order:
    the first time a position is seen its examples are checked; a document that fails loses its parse
    now and on every later pass.
    """

    moves: ArcEager
    # Positions below this have been checked.
    checked: int = 0
    # Position → source (file, document) of the documents trained without their parse.
    dropped: dict[int, Source] = field(default_factory=dict)
    # Documents with a parse the oracle follows.
    followed: int = 0

    @classmethod
    def for_pipeline(cls, nlp: Language, trained: Iterable[str]) -> "ParseCheck | None":
        """A check if a trained component is a transition-based dependency parser, else None."""
        if not any(isinstance(getattr(nlp.get_pipe(name), "moves", None), ArcEager) for name in trained):
            return None
        return cls(ArcEager(nlp.vocab.strings, ArcEager.get_actions()))

    def __call__(self, position: int, source: Source, examples: list[Example]) -> list[Example]:
        if position >= self.checked:
            self.checked = position + 1
            if not all(self.follows(eg) for eg in examples):
                self.dropped[position] = source
            elif any(eg.reference.has_annotation("DEP") for eg in examples):
                self.followed += 1
        if position in self.dropped:
            return [Example(eg.predicted, without_parse(eg.reference)) for eg in examples]
        return examples

    def wrap(
        self, corpus: Callable[[Language], Iterable[Example]], path: str
    ) -> Callable[[Language], Iterator[Example]]:
        """Check a corpus we cannot see into: each example counts as a document, named by its position."""

        def checked(nlp: Language) -> Iterator[Example]:
            for i, eg in enumerate(corpus(nlp)):
                yield from self(i, Source(Path(path), i + 1), [eg])

        return checked

    def follows(self, example: Example) -> bool:
        """Whether the oracle finds moves that build the example's gold parse on its predicted tokens."""
        try:
            states, golds, _ = self.moves.init_gold_batch([example])
        except ValueError:  # spaCy's projectivize: "Found cycle in dependency graph"
            return False
        if not states:  # no gold heads or labels, or a single token: nothing to follow
            return True
        # On a dead end spaCy prints the moves' costs and stops; the state is left unfinished.
        with contextlib.redirect_stdout(io.StringIO()):
            self.moves.get_oracle_sequence_from_state(states[0], golds[0])
        return states[0].is_final()

    def warning(self) -> str:
        """The warning naming the documents trained without their parse."""
        n = len(self.dropped)
        return Warnings.W009.format(
            n=n,
            documents="documents" if n > 1 else "document",
            trees="their trees" if n > 1 else "its tree",
            they="they train" if n > 1 else "it trains",
            names=self.names(),
        )

    def check_left(self, path: str) -> None:
        """Fail when every training document with a parse lost it."""
        if self.dropped and not self.followed:
            raise RecipeError(Errors.E039.format(path=path, n=len(self.dropped), examples=self.names()))

    def names(self) -> str:
        """The first few documents trained without their parse, by file: "a.json: documents 3, 9 and 2 more"."""
        by_file: dict[Path, list[int]] = {}
        for position in sorted(self.dropped)[:SHOWN]:
            source = self.dropped[position]
            by_file.setdefault(source.path, []).append(source.index)
        more = len(self.dropped) - min(len(self.dropped), SHOWN)
        shown = "; ".join(
            f"{path}: document{'s' if len(indices) > 1 else ''} {', '.join(map(str, indices))}"
            for path, indices in by_file.items()
        )
        return shown + (f" and {more:,} more" if more else "")


def without_parse(doc: Doc) -> Doc:
    """A copy of doc whose heads and dependency labels are missing, built afresh from what it keeps: words,
    spaces, sentence starts, tags, POS, morphology, lemmas, entities, categories, span groups and user data."""
    copy = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
    attrs = [name for name in _KEPT if doc.has_annotation(name)]
    if "ENT_IOB" in attrs:
        attrs += ["ENT_TYPE", "ENT_KB_ID"]
    if attrs:
        copy.from_array(attrs, doc.to_array(attrs))  # type: ignore[arg-type]
    copy.cats = dict(doc.cats)
    copy.user_data = dict(doc.user_data)
    for key, group in doc.spans.items():
        copy.spans[key] = [Span(copy, s.start, s.end, label=s.label, kb_id=s.kb_id, span_id=s.id) for s in group]
    return copy
