"""What more than one script uses: the repository's folders, the benchmarks' corpora and tasks, the machine's
description, and a command timed in a fresh process. Every script imports it as `scripts.common` (run them as
modules from the repository root: scripts/README.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The full corpora, beside the repository.
SHARED = REPO.parent / "shared" / "data"
# The small slices the tests use, for --smoke runs of every script.
BUNDLED = REPO / "tests" / "data"

# The benchmarks' tasks on the full corpora (scripts/benchmarks/speed.py trains each; others borrow their data).
TASKS = {
    "ner": {
        "name": "WNUT17 ner",
        "component": "ner",
        "epochs": 30,
        "metric": "ents_f",
        "train": SHARED / "wnut17" / "wnut17train.conll",
        "dev": SHARED / "wnut17" / "emerging.dev.conll",
        "test": SHARED / "wnut17" / "emerging.test.annotated",
        "format": "iob",
    },
    "tagger": {
        "name": "UD EWT tagger",
        "component": "tagger",
        "epochs": 20,
        "metric": "tag_acc",
        "train": SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu",
        "dev": SHARED / "ud-english-ewt" / "en_ewt-ud-dev.conllu",
        "test": SHARED / "ud-english-ewt" / "en_ewt-ud-test.conllu",
        "format": "conllu",
    },
    "textcat": {
        "name": "TweetEval emotion textcat",
        "component": "textcat",
        "epochs": 30,
        "metric": "cats_macro_f",
        "train": SHARED / "tweeteval-emotion" / "train",
        "dev": SHARED / "tweeteval-emotion" / "val",
        "test": SHARED / "tweeteval-emotion" / "test",
        "format": "tweeteval",
    },
    # A task the study and the tests never train: the morphologizer, on sentences of UD EWT's training file that
    # neither the study (its first 3,000 at most) nor the tests' slices use.
    "morphologizer": {
        "name": "UD EWT morphologizer (unused sentences)",
        "component": "morphologizer",
        "epochs": 10,
        "metric": "morph_acc",
        "train": SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu",
        "dev": SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu",
        "test": SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu",
        "sentences": {"train": (5000, 7000), "dev": (7000, 7500), "test": (7500, 8500)},
        "format": "conllu",
    },
}

# Runs a command in a fresh Python process and reports its wall time, peak RSS, the time of its first update
# (start-up), the seconds spent in each function named in PHASES (module:attribute, comma-separated), and the
# seconds spent evaluating and saving pipelines (spaCy's Language.evaluate and to_disk) after the first update.
_MEASURE = """
import resource, runpy, sys, time, json, importlib
start = time.perf_counter()
out, phases, module, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.argv = [module] + args
import spacy.language
first, spent = [], {}

def timed(owner, name, key, after_first=False):
    real = getattr(owner, name)
    def wrapper(*a, **k):
        if key == "update" and not first:
            first.append(time.perf_counter() - start)
        t = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            if not after_first or first:
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t
    setattr(owner, name, wrapper)

Language = spacy.language.Language
timed(Language, "update", "update")
# Every evaluation's end, in seconds from the command's start, with its scores: the time each dev score was reached.
evaluations = []
_evaluate = Language.evaluate
def evaluate(*a, **k):
    scores = _evaluate(*a, **k)
    evaluations.append({"at": time.perf_counter() - start,
                        "scores": {k: v for k, v in scores.items() if isinstance(v, float)}})
    return scores
Language.evaluate = evaluate
timed(Language, "evaluate", "evaluate", after_first=True)
timed(Language, "to_disk", "to_disk", after_first=True)
for phase in filter(None, phases.split(",")):
    path, attr = phase.split(":")
    owner = importlib.import_module(path)
    *parents, name = attr.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    timed(owner, name, phase)
code = 0
try:
    runpy.run_module(module, run_name="__main__")
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
finally:
    with open(out, "w") as f:
        json.dump({"seconds": time.perf_counter() - start,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "startup_seconds": first[0] if first else None, "spent": spent,
                   "evaluations": evaluations, "exit": code}, f)
"""


def machine() -> dict:
    import platform

    import spacy
    import thinc

    return {
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "thinc": thinc.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }


def prepare_data(task: dict, work: Path, limit: int = 0) -> dict[str, Path]:
    """Read train/dev/test with recipe-train's readers into .spacy files both trainers can read (limit > 0:
    the first limit documents of each)."""
    import spacy
    from spacy.tokens import DocBin

    from recipe_cli.data.formats import read_docs

    nlp = spacy.blank("en")
    files = {}
    for split in ("train", "dev", "test"):
        path = work / f"{split}.spacy"
        files[split] = path
        if path.exists():
            continue
        if task["format"] == "tweeteval":
            docs = tweeteval_docs(nlp, task[split])
        else:
            docs = list(read_docs(task[split], nlp, format=task["format"]))
        if split in task.get("sentences", {}):
            docs = docs[slice(*task["sentences"][split])]
        if limit:
            docs = docs[:limit]
        DocBin(docs=docs, store_user_data=True).to_disk(path)
    return files


def tweeteval_docs(nlp, prefix: Path) -> list:
    """TweetEval emotion: one tweet per line, its label id on the same line of *_labels.txt."""
    names = dict(line.split("\t") for line in (prefix.parent / "mapping.txt").read_text().splitlines() if line)
    texts = (prefix.parent / f"{prefix.name}_text.txt").read_text(encoding="utf8").splitlines()
    labels = (prefix.parent / f"{prefix.name}_labels.txt").read_text().split()
    docs = []
    for text, label in zip(texts, labels, strict=True):
        doc = nlp.make_doc(text.strip())
        doc.cats = {name: float(idx == label) for idx, name in names.items()}
        docs.append(doc)
    return docs


def measure(module: str, args: list[str], stats_path: Path, log_path: Path, phases: str = "") -> dict:
    cmd = [sys.executable, "-c", _MEASURE, str(stats_path), phases, module, *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    stats = json.loads(stats_path.read_text())
    if stats["exit"] != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed; see {log_path}")
    return stats
