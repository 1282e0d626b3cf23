"""Gold parses the parser cannot follow: found before training, and trained without.

spaCy's parser learns from its oracle: the moves that build the gold tree on the tokens the tokenizer
made. When no move leads there, spaCy stops training with E1031. The check asks the question training
asks: the trained parser's own transition system (its moves and labels) runs its oracle on each
Example exactly as training gets it (the file's tokens aligned to the tokenizer's, with their sentence
boundaries). A document it cannot follow keeps its other annotation but loses its heads and labels, on
that pass and on every later one (streamed corpora are read again each epoch: the documents are known
by their position in the corpus).

A fresh parser has no moves until it is initialised, and initialisation reads every gold tree. So the
first pass drops only the trees spaCy cannot read at all, those with a head cycle (on some of them
spaCy's projectivize never returns); once the parser is initialised, the documents are checked again
with its oracle (again()).
"""

import contextlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from spacy.language import Language
from spacy.pipeline._parser_internals.arc_eager import ArcEager
from spacy.pipeline._parser_internals.nonproj import contains_cycle
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
    now and on every later pass. Until the parser is initialised (its moves empty), only head cycles fail.
    """

    moves: ArcEager
    # Positions below this have been checked.
    checked: int = 0
    # Position → source (file, document) of the documents trained without their parse.
    dropped: dict[int, Source] = field(default_factory=dict)
    # Documents with a parse the oracle follows.
    followed: int = 0
    # The position and source of the document whose examples were checked last: a corpus yields all of a
    # document's examples before it reads the next document.
    current: tuple[int, Source] | None = None

    @classmethod
    def for_pipeline(cls, nlp: Language, trained: Iterable[str]) -> "ParseCheck | None":
        """A check with the parser's own moves if a trained component is a transition-based dependency parser,
        else None."""
        for name in trained:
            moves = getattr(nlp.get_pipe(name), "moves", None)
            if isinstance(moves, ArcEager):
                return cls(moves)
        return None

    @property
    def ready(self) -> bool:
        """Whether the parser has its moves (initialised, or loaded from a trained pipeline)."""
        return self.moves.n_moves > 0

    def again(self) -> None:
        """Check every document again on the next pass (the parser now has its moves); those dropped stay dropped."""
        self.checked = 0
        self.followed = 0

    def __call__(self, position: int, source: Source, examples: list[Example]) -> list[Example]:
        self.current = (position, source)
        if position >= self.checked:
            self.checked = position + 1
            if position in self.dropped:
                pass
            elif not all(self.follows(eg) for eg in examples):
                self.dropped[position] = source
            elif any(eg.reference.has_annotation("DEP") for eg in examples):
                self.followed += 1
        if position in self.dropped:
            return [Example(eg.predicted, without_parse(eg.reference)) for eg in examples]
        return examples

    def check_kept(self, examples: list[Example], origins: list[tuple[int, Source]]) -> None:
        """Check again, in place, the examples a corpus yielded and we kept in memory, origins[i] being the
        position and source of the document examples[i] came from."""
        self.again()
        start = 0
        for end in range(1, len(examples) + 1):
            if end == len(examples) or origins[end][0] != origins[start][0]:
                position, source = origins[start]
                examples[start:end] = self(position, source, examples[start:end])
                start = end

    def wrap(
        self, corpus: Callable[[Language], Iterable[Example]], path: str
    ) -> Callable[[Language], Iterator[Example]]:
        """Check a corpus we cannot see into: each example counts as a document, named by its position."""

        def checked(nlp: Language) -> Iterator[Example]:
            for i, eg in enumerate(corpus(nlp)):
                yield from self(i, Source(Path(path), i + 1), [eg])

        return checked

    def follows(self, example: Example) -> bool:
        """Whether the parser's oracle finds moves that build the example's gold parse on its predicted tokens.

        A head cycle never follows, and spaCy is not asked: its projectivize, which assumes a tree, raises on some
        cycles and never returns on others. Before the parser has its moves, nothing else is asked."""
        if contains_cycle([token.head.i for token in example.reference]):
            return False
        if not self.ready:
            return True
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
