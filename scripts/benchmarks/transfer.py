"""Forgetting, measured: fine-tune a pretrained ner on a new task, with and without pseudo-rehearsal.

1. Base: `recipe-train ner` on WNUT17 train (its 6 entity types), dev = WNUT17 dev. Its run records the training
   file, so `--rehearse` without RAW rehearses a sample of WNUT17 train's own texts.
2. Fine-tune the base's model-best on UNER English dev (PER/LOC/ORG; a seeded 10% held out as dev), each
   variant in its own process, the same epochs, --seeds seeds each (paired: seed s of every variant):
     plain              --base-model BASE
     rehearse           --base-model BASE --rehearse   (the default: the base's own training texts, found through
                                                         its run's record; the base fills in its types)
     rehearse-new-texts --base-model BASE --rehearse --training.rehearsal.base_sample 0
                                                        (the training texts, the base's annotation filled in)
     (more variants with --variants; see VARIANTS)
3. Score every model-best on WNUT17 test (the old task) and UNER English test (the new task).

Each task is scored twice: `ents_f` as `spacy evaluate` computes it (entities of the other task's types count
as false positives), and over its own types alone (the other task's predictions left out): the 6 WNUT17 types on
WNUT17 test, PER/LOC/ORG on UNER test.

Target: with rehearsal, the old task keeps >= 90% of the base's score and the new task ends within 2 points
of plain fine-tuning.

--scenario new-type: the case pseudo-rehearsal exists for, a new entity type taught to a model that knows others.
1. Base: `recipe-train ner` on UNER English dev (PER/LOC/ORG), 90% of its sentences; the other 10% (seeded) as dev.
2. New data: WNUT17 train with only its `product` spans kept (every other token outside an entity), as an
   annotator adding one type delivers it; dev likewise from WNUT17 dev. Each variant, --seeds seeds each:
     plain              --base-model BASE
     rehearse           --base-model BASE --rehearse   (the default: the base's own training texts, UNER dev's)
     rehearse-new-texts --base-model BASE --rehearse --training.rehearsal.base_sample 0
                                                        (the base fills in PER/LOC/ORG on the new texts)
     rehearse-raw       --base-model BASE --rehearse EWT-TEXTS     (raw UD English EWT train texts)
     (and with --variants: distill, --rehearse --training.rehearsal.mode distill; joint, no base: from scratch on
     both data sets joined, the upper bound of a user who still has the old data; rehearse-ratio-2, twice as many
     rehearsal examples per batch)
3. Old task: UNER English test, F over PER/LOC/ORG (predictions of product left out). New task: WNUT17 test, F of
   product alone (spaCy's ents_per_type). Target: --rehearse keeps >= 90% of the base's old-task F and ends within
   2 points of plain fine-tuning on product.
A re-run with the same --out continues (both scenarios): the base and every finished run are kept.

Usage: python -m scripts.benchmarks.transfer [--seeds 3] [--base-epochs 15] [--epochs 10] [--variants plain,...]
       [--base PATH (reuse a trained base)] [--out bench-transfer]
       python -m scripts.benchmarks.transfer --scenario new-type [--seeds 3] [--base-epochs 15] [--epochs 10]
       [--out bench-transfer-new-type]
       python -m scripts.benchmarks.transfer --smoke [--scenario new-type]   (the bundled WNUT17 and UNER slices,
       one epoch each, two variants (plain and rehearse), one seed, a temporary folder)
Writes OUT/results.json and prints a Markdown table.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.common import BUNDLED, SHARED, machine

WNUT = SHARED / "wnut17"
UNER = SHARED / "uner-english-ewt-devtest"
OLD_TRAIN, OLD_DEV, OLD_TEST = WNUT / "wnut17train.conll", WNUT / "emerging.dev.conll", WNUT / "emerging.test.annotated"
NEW_TRAIN, NEW_TEST = UNER / "en_ewt-ud-dev.iob2", UNER / "en_ewt-ud-test.iob2"
# --smoke: the slices the tests use (WNUT17 dev doubles as its test), the training sets cut to 40 sentences.
SMOKE_LIMIT = ["--corpora.train.limit", "40"]
EWT_TRAIN = SHARED / "ud-english-ewt" / "en_ewt-ud-train.conllu"
# --scenario new-type: the base's types, the type the new data brings, and the variants (None: no base model).
OLD_TYPES = ("PER", "LOC", "ORG")
NEW_TYPE = "product"
# The training texts rather than the base's own (the default without RAW when they cannot be found).
NEW_TEXTS = ["--rehearse", "--training.rehearsal.base_sample", "0"]
NEW_TYPE_VARIANTS: dict[str, list[str] | None] = {
    "plain": [],
    "rehearse": ["--rehearse"],
    "rehearse-new-texts": NEW_TEXTS,
    "rehearse-raw": ["--rehearse", "{raw}"],
    "distill": ["--rehearse", "--training.rehearsal.mode", "distill"],
    "joint": None,
    # Not run by default: twice as many rehearsal examples as new ones in each batch.
    "rehearse-ratio-2": ["--rehearse", "--training.rehearsal.ratio", "2"],
}
DEFAULT_NEW_TYPE_VARIANTS = ["plain", "rehearse", "rehearse-new-texts", "rehearse-raw"]
DEFAULT_VARIANTS = ["plain", "rehearse", "rehearse-new-texts"]

VARIANTS = {
    "plain": [],
    "rehearse": ["--rehearse"],
    "rehearse-new-texts": NEW_TEXTS,
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


def ner_scores(model: Path, data: Path, old_labels: set[str]) -> dict:
    """ents_f over every predicted type, and old_f over old_labels alone (other predictions dropped); the F of each
    type, over every prediction (per_type) and over old_labels' alone (old_per_type)."""
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
            "ents_r": everything["ents_r"],
            "per_type": {label: prf["f"] for label, prf in everything["ents_per_type"].items()},
            "old_per_type": {label: prf["f"] for label, prf in old["ents_per_type"].items()}}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["relabel", "new-type"], default="relabel")
    parser.add_argument("--base-epochs", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--variants", default=None, help="comma list (default: the scenario's)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant")
    parser.add_argument("--base", type=Path, help="a trained base pipeline to reuse (skips step 1)")
    parser.add_argument("--out", type=Path, default=None, help="default: bench-transfer (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="the bundled slices, one epoch: checks that it runs")
    args = parser.parse_args()
    if args.scenario == "new-type":
        return new_type(args)
    global OLD_TRAIN, OLD_DEV, OLD_TEST, NEW_TRAIN, NEW_TEST
    variants = args.variants.split(",") if args.variants else DEFAULT_VARIANTS
    limit: list[str] = []
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-transfer-smoke-"))
        args.base_epochs, args.epochs, args.seeds, limit = 1, 1, 1, SMOKE_LIMIT
        variants = args.variants.split(",") if args.variants else ["plain", "rehearse"]
        OLD_TRAIN, OLD_DEV, OLD_TEST = (BUNDLED / name for name in ("wnut17-train.conll", "wnut17-dev.conll",
                                                                     "wnut17-dev.conll"))  # fmt: skip
        NEW_TRAIN, NEW_TEST = BUNDLED / "uner-dev.iob2", BUNDLED / "uner-test.iob2"
    out: Path = args.out or Path("bench-transfer")
    for path in (OLD_TRAIN, OLD_TEST, NEW_TRAIN, NEW_TEST):
        if not path.is_file():
            print(f"Benchmark data not found: {path} (the full corpora live in ../shared/data). Nothing measured.")
            return 1
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"Unknown variant(s) {', '.join(unknown)}; the relabel scenario has {', '.join(VARIANTS)}")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results: dict = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}}
    results.update({"scenario": "relabel", "machine": machine(), "epochs": args.epochs,
                    "base_epochs": args.base_epochs})  # fmt: skip
    common = ["--training.patience", "0", "-q", "--overwrite", *limit]
    base = args.base
    if base is None:
        base = out / "base" / "model-best"
        if not base.is_dir():
            print(f"== base: ner on WNUT17 train, {args.base_epochs} epochs", flush=True)
            results["base_seconds"] = recipe_train(["ner", str(OLD_TRAIN), "--dev", str(OLD_DEV), "-o",
                                                    str(out / "base"), "--seed", "0", "--training.max_epochs",
                                                    str(args.base_epochs), *common], out / "base.log")  # fmt: skip
            results["runs"].pop("base", None)
    import spacy

    old_labels = set(spacy.load(base).get_pipe("ner").labels)
    results["old_labels"] = sorted(old_labels)
    if "base" not in results["runs"]:
        results["runs"]["base"] = {"seconds": results.get("base_seconds"), "old": ner_scores(base, OLD_TEST, old_labels),
                                   "new": ner_scores(base, NEW_TEST, set(OLD_TYPES))}  # fmt: skip
        results_path.write_text(json.dumps(results, indent=2))
    raw = raw_texts(OLD_TRAIN, out)
    for seed, name, key in pending(results, variants, args.seeds):
        print(f"== fine-tune: {key}", flush=True)
        run_out = out / name / f"seed-{seed}"
        extra = [a.format(raw=raw) for a in VARIANTS[name]]
        seconds = recipe_train(["ner", str(NEW_TRAIN), "--base-model", str(base), "-o", str(run_out), "--seed",
                                str(seed), "--training.max_epochs", str(args.epochs), *common, *extra],
                               out / f"{name}-seed-{seed}.log")  # fmt: skip
        results["runs"][key] = {"seconds": seconds, "args": extra,
                                "old": ner_scores(run_out / "model-best", OLD_TEST, old_labels),
                                "new": ner_scores(run_out / "model-best", NEW_TEST, set(OLD_TYPES))}  # fmt: skip
        results_path.write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"Results in {results_path}")
    return 0


def new_type(args: argparse.Namespace) -> int:
    """A base that knows PER/LOC/ORG taught `product` from data that annotates nothing else (see the docstring)."""
    uner_dev, uner_test = NEW_TRAIN, NEW_TEST
    wnut_train, wnut_dev, wnut_test, ewt = OLD_TRAIN, OLD_DEV, OLD_TEST, EWT_TRAIN
    limit: list[str] = []
    variants = args.variants.split(",") if args.variants else DEFAULT_NEW_TYPE_VARIANTS
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-transfer-smoke-"))
        args.base_epochs, args.epochs, args.seeds, limit = 1, 1, 1, SMOKE_LIMIT
        variants = args.variants.split(",") if args.variants else ["plain", "rehearse"]
        uner_dev, uner_test = BUNDLED / "uner-entities-dev.iob2", BUNDLED / "uner-entities-test.iob2"
        wnut_train, wnut_dev, wnut_test = (BUNDLED / n for n in ("wnut17-train.conll", "wnut17-dev.conll",
                                                                 "wnut17-dev.conll"))  # fmt: skip
        ewt = BUNDLED / "ewt-train.conllu"
    out: Path = args.out or Path("bench-transfer-new-type")
    for path in (uner_dev, uner_test, wnut_train, wnut_dev, wnut_test, ewt):
        if not path.is_file():
            print(f"Benchmark data not found: {path} (the full corpora live in ../shared/data). Nothing measured.")
            return 1
    unknown = [v for v in variants if v not in NEW_TYPE_VARIANTS]
    if unknown:
        print(f"Unknown variant(s) {', '.join(unknown)}; the new-type scenario has {', '.join(NEW_TYPE_VARIANTS)}")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    files = new_type_data(out, uner_dev, wnut_train, wnut_dev, ewt)
    results_path = out / "results.json"
    results: dict = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}}
    results.update({"scenario": "new-type", "machine": machine(), "epochs": args.epochs,
                    "base_epochs": args.base_epochs, "data": {k: str(v) for k, v in files.items()}})  # fmt: skip
    common = ["--training.patience", "0", "-q", "--overwrite", *limit]
    base = out / "base" / "model-best"
    if not base.is_dir():
        print(f"== base: ner on UNER English dev (90%), {args.base_epochs} epochs", flush=True)
        results["base_seconds"] = recipe_train(["ner", str(files["base-train"]), "--dev", str(files["base-dev"]),
                                                "-o", str(out / "base"), "--seed", "0", "--training.max_epochs",
                                                str(args.base_epochs), *common], out / "base.log")  # fmt: skip
        results["runs"].pop("base", None)
    if "base" not in results["runs"]:
        results["runs"]["base"] = {"seconds": results.get("base_seconds"), **type_scores(base, uner_test, wnut_test)}
        results_path.write_text(json.dumps(results, indent=2))
    for seed, name, key in pending(results, variants, args.seeds):
        print(f"== {key}", flush=True)
        run_out = out / name / f"seed-{seed}"
        extra = NEW_TYPE_VARIANTS[name]
        if extra is None:
            train = ["ner", str(files["base-train"]), str(files["new-train"]), "--dev", str(files["base-dev"]),
                     "--dev", str(files["new-dev"])]  # fmt: skip
            extra = []
        else:
            train = ["ner", str(files["new-train"]), "--dev", str(files["new-dev"]), "--base-model", str(base)]
            extra = [a.format(raw=files["raw"]) for a in extra]
        seconds = recipe_train([*train, "-o", str(run_out), "--seed", str(seed), "--training.max_epochs",
                                str(args.epochs), *common, *extra], out / f"{name}-seed-{seed}.log")  # fmt: skip
        results["runs"][key] = {"seconds": seconds, "args": extra,
                                **type_scores(run_out / "model-best", uner_test, wnut_test)}  # fmt: skip
        results_path.write_text(json.dumps(results, indent=2))
    print(new_type_report(results))
    print(f"Results in {results_path}")
    return 0


def new_type_data(out: Path, uner_dev: Path, wnut_train: Path, wnut_dev: Path, ewt: Path) -> dict[str, Path]:
    """The scenario's files in OUT: the base's data (UNER dev, a seeded 10% held out), the new data (WNUT17 with
    only its product spans) and the raw texts (EWT train, one per line). Kept when they are there already."""
    import random

    import spacy
    from spacy.tokens import DocBin

    from recipe_cli.data.formats import read_docs

    files = {name: out / f"{name}.spacy" for name in ("base-train", "base-dev", "new-train", "new-dev")}
    files["raw"] = out / "ewt-train-texts.txt"
    if all(path.exists() for path in files.values()):
        return files
    nlp = spacy.blank("en")
    docs = list(read_docs(uner_dev, nlp))
    order = list(range(len(docs)))
    random.Random(0).shuffle(order)
    held = set(order[: max(1, len(docs) // 10)])
    DocBin(docs=[d for i, d in enumerate(docs) if i not in held]).to_disk(files["base-train"])
    DocBin(docs=[d for i, d in enumerate(docs) if i in held]).to_disk(files["base-dev"])
    for name, path in (("new-train", wnut_train), ("new-dev", wnut_dev)):
        kept = []
        for doc in read_docs(path, nlp):
            doc.set_ents([e for e in doc.ents if e.label_ == NEW_TYPE], default="outside")
            kept.append(doc)
        DocBin(docs=kept).to_disk(files[name])
    texts = [
        line[len("# text = ") :] for line in ewt.read_text(encoding="utf8").splitlines() if line.startswith("# text = ")
    ]
    files["raw"].write_text("".join(text + "\n" for text in texts), encoding="utf8")
    return files


def type_scores(model: Path, old_test: Path, new_test: Path) -> dict[str, dict[str, float]]:
    """old: F over the base's types on the old test set (predictions of other types left out), and each type's F;
    new: the new type's F on the new test set (spaCy's ents_per_type). Both test sets are IOB files."""
    old = ner_scores(model, old_test, set(OLD_TYPES))
    new = ner_scores(model, new_test, set())
    return {
        "old": {"f": old["old_f"], **{label: old["old_per_type"].get(label, 0.0) for label in OLD_TYPES}},
        "new": {"f": new["per_type"].get(NEW_TYPE, 0.0)},
    }


def pending(results: dict, variants: list[str], seeds: int) -> Iterator[tuple[int, str, str]]:
    """(seed, variant, key) of the runs not in results yet, seed by seed: a benchmark stopped part-way has every
    variant on its first seeds."""
    for seed in range(seeds):
        for name in variants:
            key = f"{name}/seed-{seed}"
            if key not in results["runs"]:
                yield seed, name, key


def seed_runs(runs: dict) -> dict[str, dict[int, dict]]:
    """The runs keyed "variant/seed-N", by variant and seed."""
    by_variant: dict[str, dict[int, dict]] = {}
    for key, run in runs.items():
        if "/seed-" in key:
            name, seed = key.split("/seed-")
            by_variant.setdefault(name, {})[int(seed)] = run
    return by_variant


def spread(values: list[float]) -> str:
    """Mean ± sd (0 for one value)."""
    import statistics

    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def new_type_report(results: dict) -> str:
    import statistics

    runs = results["runs"]
    base_old = runs["base"]["old"]["f"]
    by_variant = seed_runs(runs)

    plain = by_variant.get("plain", {})
    lines = [
        f"New type: base ner on UNER English dev (PER/LOC/ORG, {results['base_epochs']} epochs); each variant "
        f"{results['epochs']} epochs on WNUT17 train with only {NEW_TYPE} annotated; model-best; mean ± sd over seeds",
        "",
        f"| run | n | UNER test F (PER/LOC/ORG) | kept of base | PER | LOC | ORG | WNUT17 test F ({NEW_TYPE}) "
        "| vs plain (points, paired) | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| base | 1 | {base_old:.3f} | 100% | "
        + " | ".join(f"{runs['base']['old'][t]:.3f}" for t in OLD_TYPES)
        + f" | {runs['base']['new']['f']:.3f} | | {runs['base']['seconds'] or 0:.0f} |",
    ]
    for name, seeds in by_variant.items():
        old = [run["old"]["f"] for run in seeds.values()]
        new = [run["new"]["f"] for run in seeds.values()]
        paired = [seeds[s]["new"]["f"] - plain[s]["new"]["f"] for s in seeds if s in plain]
        vs = f"{statistics.mean(paired) * 100:+.1f}" if paired and name != "plain" else ""
        kept = statistics.mean(old) / base_old if base_old else 0.0
        types = " | ".join(f"{statistics.mean(run['old'][t] for run in seeds.values()):.3f}" for t in OLD_TYPES)
        seconds = statistics.mean(run["seconds"] for run in seeds.values())
        lines.append(
            f"| {name} | {len(seeds)} | {spread(old)} | {kept:.0%} | {types} | {spread(new)} | {vs} | {seconds:.0f} |"
        )
    return "\n".join(lines)


def report(results: dict) -> str:
    """The relabel scenario's table: mean ± sd over seeds; "vs plain" paired seed by seed."""
    import statistics

    runs = results["runs"]
    base = runs["base"]
    by_variant = seed_runs(runs)
    plain = by_variant.get("plain", {})

    lines = [
        f"Forgetting: base ner on WNUT17 ({results['base_epochs']} epochs), fine-tuned {results['epochs']} epochs "
        "on UNER English dev; model-best of each run; mean ± sd over seeds",
        "",
        "| run | n | WNUT17 test ents_f | old types only | kept of base | UNER test ents_f "
        "| vs plain (points, paired) | UNER test, PER/LOC/ORG only | vs plain | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| base | 1 | {base['old']['ents_f']:.3f} | {base['old']['old_f']:.3f} | 100% | {base['new']['ents_f']:.3f} | "
        f"| {base['new']['old_f']:.3f} | | {base.get('seconds') or 0:.0f} |",
    ]
    for name, seeds in by_variant.items():
        old_f = [run["old"]["old_f"] for run in seeds.values()]
        kept = statistics.mean(old_f) / base["old"]["old_f"] if base["old"]["old_f"] else 0.0
        vs = {}
        for key in ("ents_f", "old_f"):
            paired = [seeds[s]["new"][key] - plain[s]["new"][key] for s in seeds if s in plain]
            vs[key] = f"{statistics.mean(paired) * 100:+.1f}" if paired and name != "plain" else ""
        seconds = statistics.mean(run["seconds"] for run in seeds.values())
        new_only = spread([run["new"]["old_f"] for run in seeds.values()])
        lines.append(
            f"| {name} | {len(seeds)} | {spread([run['old']['ents_f'] for run in seeds.values()])} | {spread(old_f)} "
            f"| {kept:.0%} | {spread([run['new']['ents_f'] for run in seeds.values()])} | {vs['ents_f']} "
            f"| {new_only} | {vs['old_f']} | {seconds:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
