"""Per-label tables beside spaCy's overall scores: what each label scores, and how often it occurs."""

from collections import Counter
from collections.abc import Iterable
from typing import Any

from spacy.training import Example


def per_label_tables(scores: dict[str, Any], examples: Iterable[Example]) -> dict[str, dict[str, dict[str, float]]]:
    """Tables keyed by what they describe ("ents", "cats", "tags", "pos", "morph", "deps", "spans_<key>").

    scores (Dict[str, Any]): spaCy's scores for the examples (Language.evaluate).
    examples (Iterable[Example]): the examples, with the pipeline's predictions in eg.predicted.
    RETURNS: table name → label → {"p", "r", "f", "auc", "acc", "support", ...} as available.
    """
    examples = list(examples)
    tables: dict[str, dict[str, dict[str, float]]] = {}
    if isinstance(scores.get("ents_per_type"), dict):
        support = Counter(ent.label_ for eg in examples for ent in eg.reference.ents)
        tables["ents"] = _prf_table(scores["ents_per_type"], support)
    for key, value in scores.items():
        if key.startswith("spans_") and key.endswith("_per_type") and isinstance(value, dict):
            spans_key = key[len("spans_") : -len("_per_type")]
            support = Counter(span.label_ for eg in examples for span in eg.reference.spans.get(spans_key, []))
            tables[f"spans_{spans_key}"] = _prf_table(value, support)
    if isinstance(scores.get("cats_f_per_type"), dict):
        support = Counter(label for eg in examples for label, value in eg.reference.cats.items() if value >= 0.5)
        table = _prf_table(scores["cats_f_per_type"], support)
        for label, auc in (scores.get("cats_auc_per_type") or {}).items():
            # Every label with gold support has a row already: a new row is for a label the data lacks.
            table.setdefault(label, {"support": 0})["auc"] = auc
        tables["cats"] = table
    if scores.get("tag_acc") is not None:
        tables["tags"] = _accuracy_table(examples, "tag_")
    if scores.get("pos_acc") is not None:
        tables["pos"] = _accuracy_table(examples, "pos_")
    if isinstance(scores.get("morph_per_feat"), dict):
        support = Counter(feat for eg in examples for token in eg.reference for feat in token.morph.to_dict())
        tables["morph"] = _prf_table(scores["morph_per_feat"], _only(support, scores["morph_per_feat"]))
    if isinstance(scores.get("dep_las_per_type"), dict):
        # The parser's scores name relations in lower case.
        support = Counter(token.dep_.lower() for eg in examples for token in eg.reference if token.dep_)
        tables["deps"] = _prf_table(scores["dep_las_per_type"], _only(support, scores["dep_las_per_type"]))
    return tables


def _prf_table(per_type: dict[str, dict[str, float]], support: Counter) -> dict[str, dict[str, float]]:
    table = {label: {**values, "support": support.get(label, 0)} for label, values in per_type.items()}
    for label, count in support.items():
        table.setdefault(label, {"p": 0.0, "r": 0.0, "f": 0.0, "support": count})
    return dict(sorted(table.items(), key=lambda item: (-item[1]["support"], item[0])))


def _only(support: Counter, per_type: dict[str, Any]) -> Counter:
    """The counts of the labels spaCy scored (its dependency scores leave punctuation out)."""
    return Counter({label: count for label, count in support.items() if label in per_type})


def _accuracy_table(examples: list[Example], token_attr: str) -> dict[str, dict[str, float]]:
    """Accuracy per gold label: the share of gold tokens with that label whose aligned prediction matches.

    As in spaCy's Scorer, a prediction counts only where a predicted token aligns to exactly one gold
    token; gold tokens without such a prediction count as wrong.
    """
    correct: Counter = Counter()
    total: Counter = Counter()
    for eg in examples:
        gold = [getattr(token, token_attr) for token in eg.reference]
        total.update(label for label in gold if label)
        hits = set()
        x2y = eg.alignment.x2y
        for token in eg.predicted:
            if x2y.lengths[token.i] == 1:
                gold_i = int(x2y[token.i][0])
                if gold[gold_i] and getattr(token, token_attr) == gold[gold_i]:
                    hits.add(gold_i)
        correct.update(gold[i] for i in hits)
    return {label: {"acc": correct[label] / count, "support": count} for label, count in total.most_common()}
