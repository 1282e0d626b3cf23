"""What the data holds, and what in it deserves a warning before training starts."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from spacy.tokens import Doc
from spacy.training import Example

from ..errors import Warnings
from .formats.labelstudio import ANNOTATIONS, REPEATED
from .formats.spans import spans_changed

# Documents longer than this slow the transition-based components down and strain memory.
LONG_DOC_TOKENS = 5000
# Label layers summarised, by what they are called in the summary, with how to read them from a Doc.
_LAYERS = {
    "entities": lambda doc: [ent.label_ for ent in doc.ents],
    "categories": lambda doc: [label for label, value in doc.cats.items() if value >= 0.5],
    "tags": lambda doc: [t.tag_ for t in doc if t.tag_] if doc.has_annotation("TAG") else [],
    "POS": lambda doc: [t.pos_ for t in doc if t.pos_] if doc.has_annotation("POS") else [],
    "relations": lambda doc: [t.dep_ for t in doc if t.dep_] if doc.has_annotation("DEP") else [],
}


@dataclass
class DataSummary:
    """Counts of one corpus: documents, sentences, tokens, the longest document and label frequencies."""

    docs: int = 0
    sentences: int = 0
    tokens: int = 0
    longest: int = 0
    long_docs: int = 0
    labels: dict[str, Counter] = field(default_factory=dict)
    # Category label → documents where it is 0: negative examples (the positives are labels["categories"]).
    negatives: Counter = field(default_factory=Counter)
    # Position (from 0) of the first document with more than one category at 1, and of the first whose
    # category values are not all 0 or 1; None where there is none.
    several_categories_at: int | None = None
    graded_category_at: int | None = None
    # The fewest categories one document gives a value for (Prodigy's yes/no answers give one each); None
    # where no document has categories.
    fewest_categories: int | None = None
    # Entity spans the readers changed (annotators' slips), by how: "trimmed" of whitespace, "expanded" or
    # "contracted" to token boundaries.
    spans_changed: Counter = field(default_factory=Counter)
    # Texts read from the latest of several completed annotations (Label Studio tasks annotated more than once),
    # and texts that repeat an earlier row of their file (exports with one row per annotation).
    multi_annotated: int = 0
    repeated_texts: int = 0

    def describe(self) -> str:
        return f"{self.docs:,} documents, {self.sentences:,} sentences, {self.tokens:,} tokens"

    def reading_notes(self) -> list[str]:
        """What reading the annotation tools' exports changed or chose, one line each (none for other data)."""
        notes = []
        if self.spans_changed:
            how = ", ".join(f"{n:,} {what}" for what, n in sorted(self.spans_changed.items()))
            notes.append(f"entity spans changed: {sum(self.spans_changed.values()):,} ({how})")
        if self.multi_annotated:
            notes.append(
                f"tasks annotated more than once: {self.multi_annotated:,} (each read from its most recently "
                "updated completed annotation)"
            )
        if self.repeated_texts:
            notes.append(
                f"texts repeating an earlier row: {self.repeated_texts:,} (the export has one row per annotation)"
            )
        return notes

    @property
    def category_labels(self) -> set[str]:
        """Every category the documents give a value for, positive or negative."""
        return set(self.labels.get("categories", {})) | set(self.negatives)

    def yes_no(self, label: str) -> str:
        """A label's positive and negative examples, e.g. "DOCUMENTATION: 201 positive, 460 negative"."""
        positive = self.labels.get("categories", Counter())[label]
        return f"{label}: {positive:,} positive, {self.negatives[label]:,} negative"


def summarize(examples: Iterable[Example]) -> DataSummary:
    summary = DataSummary(labels={name: Counter() for name in _LAYERS})
    for eg in examples:
        doc: Doc = eg.reference
        summary.docs += 1
        summary.tokens += len(doc)
        summary.sentences += len(list(doc.sents)) if doc.has_annotation("SENT_START") else 1
        summary.longest = max(summary.longest, len(doc))
        summary.long_docs += len(doc) > LONG_DOC_TOKENS
        for name, read in _LAYERS.items():
            summary.labels[name].update(read(doc))
        summary.spans_changed.update(spans_changed(doc))
        summary.multi_annotated += ANNOTATIONS in doc.user_data
        summary.repeated_texts += REPEATED in doc.user_data
        if doc.cats:
            values = list(doc.cats.values())
            summary.negatives.update(label for label, value in doc.cats.items() if value < 0.5)
            if summary.several_categories_at is None and sum(value >= 0.5 for value in values) > 1:
                summary.several_categories_at = summary.docs - 1
            if summary.graded_category_at is None and any(value not in (0.0, 1.0) for value in values):
                summary.graded_category_at = summary.docs - 1
            summary.fewest_categories = min(len(values), summary.fewest_categories or len(values))
    summary.labels = {name: counts for name, counts in summary.labels.items() if counts}
    return summary


def data_warnings(train: DataSummary, dev: DataSummary, factories: Iterable[str]) -> list[str]:
    """Warnings about data that trains poorly or cannot be scored fairly; none of them stops a run."""
    warnings = []
    for name, counts in dev.labels.items():
        unseen = sorted(set(counts) - set(train.labels.get(name, {})))
        if unseen:
            shown = ", ".join(f"{label} ({counts[label]})" for label in unseen[:8])
            more = f" and {len(unseen) - 8} more" if len(unseen) > 8 else ""
            warnings.append(Warnings.W005.format(name=name, shown=shown, more=more))
    for corpus, summary in (("training", train), ("dev", dev)):
        if summary.long_docs:
            part = "train" if corpus == "training" else "dev"
            warnings.append(
                Warnings.W006.format(
                    n=summary.long_docs, corpus=corpus, limit=LONG_DOC_TOKENS, longest=summary.longest, part=part
                )
            )
    factories = set(factories)
    cats = train.category_labels
    if factories & {"textcat", "textcat_multilabel"} and len(cats) == 1:
        # One label: a yes/no question, which needs both answers to learn from.
        label = next(iter(cats))
        if not train.negatives[label] or not train.labels.get("categories", Counter())[label]:
            warnings.append(Warnings.W007.format(answers=train.yes_no(label)))
    rare = sorted(label for label, n in train.labels.get("entities", Counter()).items() if n < 3)
    if "ner" in factories and rare:
        warnings.append(Warnings.W008.format(labels=", ".join(rare)))
    return warnings
