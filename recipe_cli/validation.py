"""What the data holds, and what in it deserves a warning before training starts."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from spacy.tokens import Doc
from spacy.training import Example

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

    def describe(self) -> str:
        return f"{self.docs:,} documents, {self.sentences:,} sentences, {self.tokens:,} tokens"


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
            warnings.append(f"dev {name} never seen in training: {shown}{more}")
    for corpus, summary in (("training", train), ("dev", dev)):
        if summary.long_docs:
            warnings.append(
                f"{summary.long_docs:,} {corpus} documents are longer than {LONG_DOC_TOKENS:,} tokens (longest "
                f"{summary.longest:,}): set corpora.{'train' if corpus == 'training' else 'dev'}.max_length to split them"
            )
    factories = set(factories)
    cats = train.labels.get("categories", Counter())
    if factories & {"textcat", "textcat_multilabel"} and len(cats) == 1:
        warnings.append(f"only one category in the training data ({next(iter(cats))}): nothing to choose between")
    rare = sorted(label for label, n in train.labels.get("entities", Counter()).items() if n < 3)
    if "ner" in factories and rare:
        warnings.append(f"entity labels seen fewer than 3 times in training: {', '.join(rare)}")
    return warnings
