"""A simple reference model for the study's text classification tasks, and the chance level of their metric.

Logistic regression (scikit-learn) on the features the packaged TextCatBOW reads: the lower-cased tokens of
spaCy's English tokenizer, counted (ngram_size 1). Trained on the task's training file, scored on its test file
with spaCy's own scorer (`Scorer.score_cats`: cats_macro_auc for textcat_multilabel, cats_macro_f for textcat), the
metric the study reports. Beside it, the chance level of that metric under the same scorer: a predictor whose
scores are random (uniform), the mean over CHANCE_DRAWS draws. A study task whose trained models score far below
the reference is not trained yet, and its verdicts say little.

Tasks: TweetEval emotion (textcat) and GoEmotions (textcat_multilabel), from the files
`python -m scripts.evidence.data` makes (evidence-data/). Prints a Markdown table; --out writes the numbers as JSON.

Usage: python -m scripts.evidence.reference [--data evidence-data] [--out evidence-reference.json]
       python -m scripts.evidence.reference --smoke   (the bundled GoEmotions slices of tests/data)
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
# task → (component, folder of train/dev/test files, their suffix)
TASKS = {
    "tweeteval": ("textcat", "tweeteval", ".jsonl"),
    "goemotions": ("textcat_multilabel", "goemotions", ".jsonl"),
}
SMOKE = {
    "goemotions-slice": ("textcat", BUNDLED / "goemotions-train.json",
                         BUNDLED / "goemotions-dev.json"),
    "goemotions-multilabel-slice": ("textcat_multilabel", BUNDLED / "goemotions-multilabel-train.json",
                                    BUNDLED / "goemotions-multilabel-dev.json"),
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
        for name, (component, folder, suffix) in TASKS.items():
            train, test = args.data / folder / f"train{suffix}", args.data / folder / f"test{suffix}"
            if not train.is_file() or not test.is_file():
                print(f"{name}: no data in {args.data / folder} (run python -m scripts.evidence.data): skipped")
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
    lines = ["| task | component | metric | reference (logistic regression) | chance | train / test texts |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['component']} | {r['metric']} | {r['reference']:.4f} | {r['chance']:.4f} | "
            f"{r['train_texts']:,} / {r['test_texts']:,} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
