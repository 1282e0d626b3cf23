"""A simple reference model for each of the study's tasks, and the chance level of its metric.

Each is scored on the task's test file by spaCy's own scorer, on the metric the study reports (the score its
config's score_weights make):
  - ner (WNUT17, UNER): ents_f. Reference: the entities of the training data memorised (each token sequence
    annotated as an entity there, lower-cased, with its most frequent label), found in the test texts longest
    first. Chance: no entity found (F 0).
  - tagger (EWT): tag_acc. Reference: each word's most frequent tag in training (unseen words: the most frequent
    tag). Chance: the most frequent tag for every word.
  - parser (EWT): (dep_uas + dep_las) / 2, sentence by sentence. Reference: every word attached to the word
    after it (the last word the root), with the relation the word has most often in training. Chance: every word attached to its
    sentence's first word, with the most frequent relation.
  - textcat (TweetEval emotion): cats_macro_f, and textcat_multilabel (GoEmotions): cats_macro_auc. Reference:
    logistic regression (scikit-learn) on the features the packaged TextCatBOW reads (the lower-cased tokens of
    spaCy's English tokenizer, counted). Chance: random (uniform) scores, the mean over CHANCE_DRAWS draws.
A study task whose trained models score far below its reference is not trained yet, and its verdicts say little.

Tasks: as the study's spec names them, from the files `python -m scripts.evidence.data` makes (evidence-data/).
Prints a Markdown table; --out writes the numbers as JSON (the evidence page reads it from the study's folder,
as reference.json).

Usage: python -m scripts.evidence.reference [--data evidence-data] [--out evidence/reference.json]
       python -m scripts.evidence.reference --smoke   (the bundled slices of tests/data)
"""

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from scripts.common import BUNDLED, REPO

CHANCE_DRAWS = 20
# task → (component, training file, test file), relative to the data folder (as scripts/evidence/evidence.yml).
TASKS = {
    "wnut17": ("ner", "wnut17/train.conll", "wnut17/test.conll"),
    "uner": ("ner", "uner/train.iob2", "uner/test.iob2"),
    "ewt-tagger": ("tagger", "ewt/train.conllu", "ewt/test.conllu"),
    "ewt-parser": ("parser", "ewt/parser-train.conllu", "ewt/test.conllu"),
    "tweeteval": ("textcat", "tweeteval/train.jsonl", "tweeteval/test.jsonl"),
    "goemotions": ("textcat_multilabel", "goemotions/train.jsonl", "goemotions/test.jsonl"),
}
SMOKE = {
    "wnut17-slice": ("ner", BUNDLED / "wnut17-train.conll", BUNDLED / "wnut17-dev.conll"),
    "ewt-tagger-slice": ("tagger", BUNDLED / "ewt-train.conllu", BUNDLED / "ewt-dev.conllu"),
    "ewt-parser-slice": ("parser", BUNDLED / "ewt-train.conllu", BUNDLED / "ewt-dev.conllu"),
    "goemotions-slice": ("textcat", BUNDLED / "goemotions-train.json",
                         BUNDLED / "goemotions-dev.json"),
    "goemotions-multilabel-slice": ("textcat_multilabel", BUNDLED / "goemotions-multilabel-train.json",
                                    BUNDLED / "goemotions-multilabel-dev.json"),
}  # fmt: skip
# What each component's reference and chance level are, in words (the page and the table say them).
DESCRIBED = {
    "ner": ("ents_f", "training entities memorised", "no entity found"),
    "tagger": ("tag_acc", "each word's most frequent training tag", "the most frequent tag everywhere"),
    "parser": ("(dep_uas + dep_las) / 2", "head: the next word; relation: the word's most frequent",
               "head: the sentence's first word; the most frequent relation"),
    "textcat": ("cats_macro_f", "logistic regression on token counts", "random scores"),
    "textcat_multilabel": ("cats_macro_auc", "logistic regression on token counts", "random scores"),
}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO / "evidence-data")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="the bundled slices: checks that it runs")
    args = parser.parse_args()
    if args.smoke:
        # The smoke slices' test file is their dev file.
        runs = {name: (component, train, test) for name, (component, train, test) in SMOKE.items()}
    else:
        runs = {}
        for name, (component, train_name, test_name) in TASKS.items():
            train, test = args.data / train_name, args.data / test_name
            if not train.is_file() or not test.is_file():
                print(f"{name}: no {train} or {test} (run python -m scripts.evidence.data): skipped")
                continue
            runs[name] = (component, train, test)
    if not runs:
        print("No task's data found: nothing measured.")
        return 1
    results = {name: reference(component, train, test) for name, (component, train, test) in runs.items()}
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    return 0


def reference(component: str, train: Path, test: Path) -> dict[str, Any]:
    """The reference model's test score and the metric's chance level, by spaCy's scorer."""
    if component in TOKEN_REFERENCES:
        return token_reference(component, train, test)
    import numpy
    import spacy
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    nlp = spacy.blank("en")
    train_texts, train_cats = read(nlp, train)
    test_texts, test_cats = read(nlp, test)
    labels = sorted({label for cats in train_cats + test_cats for label in cats})
    multi_label = component == "textcat_multilabel"
    started = time.perf_counter()
    vectorizer = CountVectorizer(tokenizer=lambda text: [t.lower_ for t in nlp.tokenizer(text)], lowercase=False,
                                 token_pattern=None)  # fmt: skip
    X_train, X_test = vectorizer.fit_transform(train_texts), vectorizer.transform(test_texts)
    Y = numpy.array([[cats.get(label, 0.0) >= 0.5 for label in labels] for cats in train_cats], dtype=int)
    if multi_label:
        # A label no training text has gets no model: its score is 0 for every text.
        present = [j for j in range(len(labels)) if 0 < Y[:, j].sum() < len(Y)]
        model = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(X_train, Y[:, present])
        scores = numpy.zeros((X_test.shape[0], len(labels)))
        scores[:, present] = model.predict_proba(X_test)
    else:
        model = LogisticRegression(max_iter=2000).fit(X_train, Y.argmax(axis=1))
        scores = numpy.zeros((X_test.shape[0], len(labels)))
        scores[:, model.classes_] = model.predict_proba(X_test)
    seconds = time.perf_counter() - started
    metric = "cats_macro_auc" if multi_label else "cats_macro_f"
    ours = score(nlp, test_texts, test_cats, labels, scores, multi_label)[metric]
    rng = random.Random(0)
    chance = [
        score(nlp, test_texts, test_cats, labels, [[rng.random() for _ in labels] for _ in test_texts], multi_label)[
            metric
        ]
        for _ in range(CHANCE_DRAWS)
    ]
    return {
        "component": component,
        "metric": metric,
        "reference": ours,
        "chance": sum(chance) / len(chance),
        "train_texts": len(train_texts),
        "test_texts": len(test_texts),
        "labels": len(labels),
        "seconds": seconds,
    }


def token_reference(component: str, train: Path, test: Path) -> dict[str, Any]:
    """ner, tagger, parser: the reference and the chance predictor (TOKEN_REFERENCES) learnt from the training
    documents, each predicting every test document (its words only), scored by spaCy's scorer."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example

    from recipe_cli.data.corpus import RecipeCorpus

    nlp = spacy.blank("en")

    def docs(path: Path) -> list[Any]:
        corpus = RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0, limit=0)
        return list(corpus.reference_docs(nlp))

    train_docs, test_docs = docs(train), docs(test)
    started = time.perf_counter()
    learn, metric = TOKEN_REFERENCES[component]
    predictors = learn(train_docs)
    seconds = time.perf_counter() - started
    scores = {}
    for name, predict in zip(("reference", "chance"), predictors, strict=True):
        examples = []
        for gold in test_docs:
            words = Doc(nlp.vocab, words=[t.text for t in gold], spaces=[bool(t.whitespace_) for t in gold])
            examples.append(Example(predict(words), gold))
        scores[name] = metric(examples)
    labels = {"ner": "ents", "tagger": "tags", "parser": "relations"}[component]
    return {
        "component": component,
        "metric": DESCRIBED[component][0],
        "reference": scores["reference"],
        "chance": scores["chance"],
        "train_texts": len(train_docs),
        "test_texts": len(test_docs),
        "labels": len(_labels(train_docs, labels)),
        "seconds": seconds,
    }


def _labels(docs: list[Any], what: str) -> set[str]:
    if what == "ents":
        return {ent.label_ for doc in docs for ent in doc.ents}
    if what == "tags":
        return {t.tag_ for doc in docs for t in doc}
    return {t.dep_ for doc in docs for t in doc}


def _ner(train_docs: list[Any]) -> tuple[Any, Any]:
    from collections import Counter, defaultdict

    from spacy.tokens import Span

    seen: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for doc in train_docs:
        for ent in doc.ents:
            seen[tuple(t.lower_ for t in ent)][ent.label_] += 1
    label = {words: counts.most_common(1)[0][0] for words, counts in seen.items()}
    longest = max((len(words) for words in label), default=0)

    def memorised(doc: Any) -> Any:
        lower = [t.lower_ for t in doc]
        ents, i = [], 0
        while i < len(doc):
            for n in range(min(longest, len(doc) - i), 0, -1):
                found = label.get(tuple(lower[i : i + n]))
                if found is not None:
                    ents.append(Span(doc, i, i + n, label=found))
                    i += n
                    break
            else:
                i += 1
        doc.set_ents(ents, default="outside")
        return doc

    def nothing(doc: Any) -> Any:
        doc.set_ents([], default="outside")
        return doc

    return memorised, nothing


def _tagger(train_docs: list[Any]) -> tuple[Any, Any]:
    from collections import Counter, defaultdict

    by_word: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for doc in train_docs:
        for t in doc:
            by_word[t.text][t.tag_] += 1
            overall[t.tag_] += 1
    most = overall.most_common(1)[0][0]
    best = {word: counts.most_common(1)[0][0] for word, counts in by_word.items()}

    def tagged(doc: Any, tags: list[str]) -> Any:
        for token, tag in zip(doc, tags, strict=True):
            token.tag_ = tag
        return doc

    return (lambda doc: tagged(doc, [best.get(t.text, most) for t in doc]),
            lambda doc: tagged(doc, [most] * len(doc)))  # fmt: skip


def _parser(train_docs: list[Any]) -> tuple[Any, Any]:
    from collections import Counter, defaultdict

    from spacy.tokens import Doc

    by_word: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for doc in train_docs:
        for t in doc:
            if t.dep_ and t.dep_ != "ROOT":
                by_word[t.text][t.dep_] += 1
                overall[t.dep_] += 1
    most = overall.most_common(1)[0][0]
    best = {word: counts.most_common(1)[0][0] for word, counts in by_word.items()}

    def parsed(doc: Any, heads: list[int], deps: list[str]) -> Any:
        spaces = [bool(t.whitespace_) for t in doc]
        return Doc(doc.vocab, words=[t.text for t in doc], spaces=spaces, heads=heads, deps=deps)

    def chain(doc: Any) -> Any:
        last = len(doc) - 1
        deps = [best.get(t.text, most) for t in doc[:last]] + ["ROOT"]
        return parsed(doc, [min(i + 1, last) for i in range(len(doc))], deps)

    def flat(doc: Any) -> Any:
        return parsed(doc, [0] * len(doc), ["ROOT"] + [most] * (len(doc) - 1))

    return chain, flat


def _ents_f(examples: list[Any]) -> float:
    from spacy.scorer import get_ner_prf

    return get_ner_prf(examples)["ents_f"]


def _tag_acc(examples: list[Any]) -> float:
    from spacy.scorer import Scorer

    return Scorer.score_token_attr(examples, "tag")["tag_acc"]


def _parse_score(examples: list[Any]) -> float:
    """The packaged parser config's main score: dep_uas and dep_las weighted 0.5 each, as spaCy's parser scores
    them (punctuation left out)."""
    from spacy.pipeline.dep_parser import parser_score

    scores = parser_score(examples)
    return 0.5 * scores["dep_uas"] + 0.5 * scores["dep_las"]


# component → (learn the reference and the chance predictor from the training docs, the metric of examples)
TOKEN_REFERENCES = {"ner": (_ner, _ents_f), "tagger": (_tagger, _tag_acc), "parser": (_parser, _parse_score)}


def read(nlp: Any, path: Path) -> tuple[list[str], list[dict[str, float]]]:
    """Texts and their categories, read by recipe-train's own reader (any format it reads)."""
    from recipe_cli.data.corpus import RecipeCorpus

    corpus = RecipeCorpus(path, format="auto", sents_per_doc=1, holdout=0.0, part="all", seed=0, limit=0)
    examples = list(corpus(nlp))
    return [eg.reference.text for eg in examples], [dict(eg.reference.cats) for eg in examples]


def score(nlp: Any, texts: list[str], cats: list[dict], labels: list[str], scores: Any, multi_label: bool) -> dict:
    """spaCy's Scorer.score_cats of predicted scores against the gold categories."""
    from spacy.scorer import Scorer
    from spacy.training import Example

    examples = []
    for text, gold, row in zip(texts, cats, scores, strict=True):
        predicted = nlp.make_doc(text)
        predicted.cats = {label: float(value) for label, value in zip(labels, row, strict=True)}
        reference = nlp.make_doc(text)
        reference.cats = {label: gold.get(label, 0.0) for label in labels}
        examples.append(Example(predicted, reference))
    return Scorer.score_cats(examples, "cats", labels=labels, multi_label=multi_label, threshold=0.5)


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| task | component | metric | reference | score | chance | score | train / test texts |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        _, what, chance = DESCRIBED[r["component"]]
        lines.append(
            f"| {name} | {r['component']} | {r['metric']} | {what} | {r['reference']:.4f} | {chance} | "
            f"{r['chance']:.4f} | {r['train_texts']:,} / {r['test_texts']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
