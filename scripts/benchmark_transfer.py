"""Forgetting, measured: fine-tune a pretrained ner on a new task, with and without pseudo-rehearsal.

1. Base: `recipe-train ner` on WNUT17 train (its 6 entity types), dev = WNUT17 dev.
2. Fine-tune the base's model-best on UNER English dev (PER/LOC/ORG; a seeded 10% held out as dev), each
   variant in its own process, the same epochs and seed:
     plain        --base-model BASE
     rehearse     --base-model BASE --rehearse               (training texts; the base fills in its types)
     rehearse-raw --base-model BASE --rehearse WNUT17-TEXTS  (raw WNUT17 train texts, one per line)
     (more variants with --variants; see VARIANTS)
3. Score every model-best on WNUT17 test (the old task) and UNER English test (the new task).

The old task is scored twice: `ents_f` as `spacy evaluate` computes it (entities of the new types predicted in
tweets count as false positives), and `old_f` over the 6 WNUT17 types alone (predictions of new types left out).

Target: with rehearsal, the old task keeps >= 90% of the base's score and the new task ends within 2 points
of plain fine-tuning.

Usage: python scripts/benchmark_transfer.py [--base-epochs 15] [--epochs 10] [--variants plain,rehearse,...]
       [--base PATH (reuse a trained base)] [--out bench-transfer]
       python scripts/benchmark_transfer.py --smoke   (the bundled WNUT17 and UNER slices, one epoch each, the
       plain and rehearse-raw variants, a temporary folder)
Writes OUT/results.json and prints a Markdown table.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark import BUNDLED, SHARED, machine  # noqa: E402

WNUT = SHARED / "wnut17"
UNER = SHARED / "uner-english-ewt-devtest"
OLD_TRAIN, OLD_DEV, OLD_TEST = WNUT / "wnut17train.conll", WNUT / "emerging.dev.conll", WNUT / "emerging.test.annotated"
NEW_TRAIN, NEW_TEST = UNER / "en_ewt-ud-dev.iob2", UNER / "en_ewt-ud-test.iob2"
# --smoke: the slices the tests use (WNUT17 dev doubles as its test), the training sets cut to 40 sentences.
SMOKE_LIMIT = ["--corpora.train.limit", "40"]

VARIANTS = {
    "plain": [],
    "rehearse": ["--rehearse"],
    "rehearse-raw": ["--rehearse", "{raw}"],
    "rehearse-raw-missing": ["--rehearse", "{raw}", "--training.rehearsal.unannotated", "missing"],
    "rehearse-raw-0.5": ["--rehearse", "{raw}", "--training.rehearsal.ratio", "0.5"],
    "rehearse-raw-0.25": ["--rehearse", "{raw}", "--training.rehearsal.ratio", "0.25"],
    "rehearse-raw-0.1": ["--rehearse", "{raw}", "--training.rehearsal.ratio", "0.1"],
    "rehearse-raw-missing-0.25": [
        "--rehearse",
        "{raw}",
        "--training.rehearsal.unannotated",
        "missing",
        "--training.rehearsal.ratio",
        "0.25",
    ],
    "distill-raw": ["--rehearse", "{raw}", "--training.rehearsal.mode", "distill"],
    "distill": ["--rehearse", "--training.rehearsal.mode", "distill"],
    "rehearse-raw-nofill": ["--rehearse", "{raw}", "--training.rehearsal.fill_in", "false"],
}


def recipe_train(args: list[str], log: Path) -> float:
    start = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.run([sys.executable, "-m", "recipe_cli", "train", *args], stdout=f, stderr=subprocess.STDOUT,
                              check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"recipe-train {' '.join(args)} failed; see {log}")
    return time.perf_counter() - start


def raw_texts(path: Path, out: Path) -> Path:
    """WNUT17 train as raw text, one sentence per line (its tokens joined by spaces)."""
    import spacy

    from recipe_cli.data.formats import read_docs

    raw = out / "wnut17-train-texts.txt"
    nlp = spacy.blank("en")
    raw.write_text("".join(" ".join(t.text for t in doc) + "\n" for doc in read_docs(path, nlp)), encoding="utf8")
    return raw


def ner_scores(model: Path, data: Path, old_labels: set[str]) -> dict[str, float]:
    """ents_f over every predicted type, and old_f over old_labels alone (other predictions dropped)."""
    import spacy
    from spacy.scorer import get_ner_prf
    from spacy.tokens import Doc
    from spacy.training import Example

    from recipe_cli.data.formats import read_docs

    nlp = spacy.load(model)
    refs = list(read_docs(data, nlp, format="iob"))
    inputs = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in refs]
    preds = list(nlp.pipe(inputs, batch_size=128))
    everything = get_ner_prf([Example(p, r) for p, r in zip(preds, refs, strict=True)])
    kept = []
    for pred, ref in zip(preds, refs, strict=True):
        pred = pred.copy()
        pred.set_ents([e for e in pred.ents if e.label_ in old_labels], default="outside")
        kept.append(Example(pred, ref))
    old = get_ner_prf(kept)
    return {"ents_f": everything["ents_f"], "old_f": old["ents_f"], "ents_p": everything["ents_p"],
            "ents_r": everything["ents_r"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--variants", default="plain,rehearse,rehearse-raw,rehearse-raw-missing")
    parser.add_argument("--base", type=Path, help="a trained base pipeline to reuse (skips step 1)")
    parser.add_argument("--out", type=Path, default=None, help="default: bench-transfer (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slices, one epoch: checks that it runs")
    args = parser.parse_args()
    global OLD_TRAIN, OLD_DEV, OLD_TEST, NEW_TRAIN, NEW_TEST
    limit: list[str] = []
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-transfer-smoke-"))
        args.base_epochs, args.epochs, args.variants, limit = 1, 1, "plain,rehearse-raw", SMOKE_LIMIT
        OLD_TRAIN, OLD_DEV, OLD_TEST = (BUNDLED / name for name in ("wnut17-train.conll", "wnut17-dev.conll",
                                                                     "wnut17-dev.conll"))  # fmt: skip
        NEW_TRAIN, NEW_TEST = BUNDLED / "uner-dev.iob2", BUNDLED / "uner-test.iob2"
    args.out = args.out or Path("bench-transfer")
    for path in (OLD_TRAIN, OLD_TEST, NEW_TRAIN, NEW_TEST):
        if not path.is_file():
            print(f"Benchmark data not found: {path} (the full corpora live in ../shared/data). Nothing measured.")
            return 1
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "epochs": args.epochs, "base_epochs": args.base_epochs, "runs": {}}
    base = args.base
    if base is None:
        print(f"== base: ner on WNUT17 train, {args.base_epochs} epochs", flush=True)
        seconds = recipe_train(["ner", str(OLD_TRAIN), "--dev", str(OLD_DEV), "-o", str(args.out / "base"), "--overwrite",
                                "--seed", "0", "-q", "--training.max_epochs", str(args.base_epochs),
                                "--training.patience", "0", *limit], args.out / "base.log")  # fmt: skip
        base = args.out / "base" / "model-best"
        results["base_seconds"] = seconds
    import spacy

    old_labels = set(spacy.load(base).get_pipe("ner").labels)
    results["old_labels"] = sorted(old_labels)
    results["runs"]["base"] = {"old": ner_scores(base, OLD_TEST, old_labels), "new": ner_scores(base, NEW_TEST, set())}
    raw = raw_texts(OLD_TRAIN, args.out)
    for name in args.variants.split(","):
        print(f"== fine-tune: {name}", flush=True)
        out = args.out / name
        extra = [a.format(raw=raw) for a in VARIANTS[name]]
        seconds = recipe_train(["ner", str(NEW_TRAIN), "--base-model", str(base), "-o", str(out), "--overwrite",
                                "--seed", "0", "-q", "--training.max_epochs", str(args.epochs),
                                "--training.patience", "0", *limit, *extra], args.out / f"{name}.log")  # fmt: skip
        results["runs"][name] = {
            "seconds": seconds,
            "old": ner_scores(out / "model-best", OLD_TEST, old_labels),
            "new": ner_scores(out / "model-best", NEW_TEST, set()),
            "args": extra,
        }
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"Results in {args.out / 'results.json'}")
    return 0


def report(results: dict) -> str:
    runs = results["runs"]
    base_old = runs["base"]["old"]
    plain_new = runs.get("plain", {}).get("new", {}).get("ents_f")
    lines = [
        f"Forgetting: base ner on WNUT17 ({results['base_epochs']} epochs), fine-tuned {results['epochs']} epochs "
        "on UNER English dev; model-best of each run",
        "",
        "| run | WNUT17 test ents_f | old types only | kept of base | UNER test ents_f | vs plain | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, run in runs.items():
        kept = run["old"]["ents_f"] / base_old["ents_f"] if base_old["ents_f"] else 0.0
        vs = f"{(run['new']['ents_f'] - plain_new) * 100:+.1f} pts" if plain_new is not None and name != "base" else ""
        lines.append(
            f"| {name} | {run['old']['ents_f']:.3f} | {run['old']['old_f']:.3f} | {kept:.0%} "
            f"| {run['new']['ents_f']:.3f} | {vs} | {run.get('seconds', results.get('base_seconds', 0)):.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
