"""Streaming against reading into memory: peak RSS and training speed, side by side, in one run.

WNUT17 train (3,394 sentences, from ../shared/data) and a corpus SCALE times its size built on disk by
repeating it. Each run is `recipe-train ner` in its own process with WNUT17 dev as --dev, seed 0:

  * default-x1: the defaults on WNUT17 (`training.shuffle_buffer = 10000`: the corpus fits, so it is kept in
    memory after the counting pass);
  * streamed-x1: WNUT17 streamed through a 1,000-example buffer (the file read again each epoch);
  * streamed-xSCALE: the defaults on the big corpus, which does not fit the buffer and is streamed;
  * in-memory-xSCALE: the big corpus read into memory (`training.shuffle_buffer = 0`).

Targets: peak RSS of streamed-xSCALE within 1.3x of default-x1; training words/second of each streamed run
within 5% of the in-memory run on the same data. Words/second is given two ways: the training loop
alone (metrics.jsonl: words / train_seconds, which includes reading the streamed file) and the whole
command (words / wall time, which includes the counting pass and initialisation).

Usage: python -m scripts.benchmarks.memory [--scale 10] [--epochs 2] [--repeats 1] [--out bench-memory]
       python -m scripts.benchmarks.memory --smoke   (60 sentences of the bundled WNUT17 slice, scale 2, one
       epoch, 20-example buffers, a temporary folder)
Writes OUT/results.json and prints a Markdown table.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from scripts.common import BUNDLED, SHARED, machine, measure

TRAIN = SHARED / "wnut17" / "wnut17train.conll"
DEV = SHARED / "wnut17" / "emerging.dev.conll"
STREAM_BUFFER = 1000


def smoke_corpus(out: Path, sentences: int = 60) -> Path:
    """The first sentences of the bundled WNUT17 slice (its sentence breaks are blank or TAB-only lines)."""
    kept, n = [], 0
    for line in (BUNDLED / "wnut17-train.conll").read_text(encoding="utf8").splitlines():
        kept.append(line)
        if not line.strip():
            n += 1
            if n == sentences:
                break
    path = out / "wnut17-smoke.conll"
    path.write_text("\n".join(kept) + "\n", encoding="utf8")
    return path


def build_scaled(path: Path, scale: int, out: Path) -> Path:
    """The corpus repeated scale times, one copy after another, on disk."""
    scaled = out / f"wnut17train-x{scale}.conll"
    text = path.read_text(encoding="utf8").rstrip("\n") + "\n\n"
    with scaled.open("w", encoding="utf8") as f:
        for _ in range(scale):
            f.write(text)
    return scaled


def run(name: str, data: Path, shuffle_buffer: int | None, epochs: int, work: Path, dev: Path = DEV) -> dict:
    out = work / name
    args = ["train", "ner", str(data), "--dev", str(dev), "-o", str(out), "--overwrite", "--quiet", "--seed", "0",
            "--training.max_epochs", str(epochs), "--training.patience", "0"]  # fmt: skip
    if shuffle_buffer is not None:
        args += ["--training.shuffle_buffer", str(shuffle_buffer)]
    print(f"  {name} ...", flush=True)
    stats = measure("recipe_cli", args, work / f"{name}-stats.json", work / f"{name}.log")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    words = rows[-1]["words"]
    return {
        **stats,
        "epochs": len(rows),
        "words": words,
        "batch_size": max(r["batch_size"] for r in rows),
        "loop_words_per_second": words / sum(r["train_seconds"] for r in rows),
        "words_per_second": words / stats["seconds"],
        "dev_ents_f": rows[-1]["scores"].get("ents_f"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="repeat the speed pairs, interleaved")
    parser.add_argument("--out", type=Path, default=None, help="default: bench-memory (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="a bundled slice, one epoch: checks that it runs")
    args = parser.parse_args()
    train, dev, buffer, default_buffer = TRAIN, DEV, STREAM_BUFFER, None
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="benchmark-memory-smoke-"))
        args.scale, args.epochs, args.repeats = 2, 1, 1
        # Buffers smaller than the slice, so that the streamed runs do stream.
        buffer = default_buffer = 20
        args.out.mkdir(parents=True, exist_ok=True)
        train, dev = smoke_corpus(args.out), BUNDLED / "wnut17-dev.conll"
    elif not TRAIN.is_file():
        print(f"Benchmark data not found: {TRAIN} (the full corpora live in ../shared/data). Nothing measured.")
        return 1
    args.out = args.out or Path("bench-memory")
    args.out.mkdir(parents=True, exist_ok=True)
    scaled = build_scaled(train, args.scale, args.out)
    start = time.perf_counter()
    runs: dict[str, list[dict]] = {}
    for repeat in range(args.repeats):
        print(f"== repeat {repeat + 1} of {args.repeats}", flush=True)
        for name, data, size in (
            ("default-x1", train, default_buffer),
            ("streamed-x1", train, buffer),
            (f"streamed-x{args.scale}", scaled, default_buffer),
            (f"in-memory-x{args.scale}", scaled, 0),
        ):
            runs.setdefault(name, []).append(run(name, data, size, args.epochs, args.out, dev))
    results = {"machine": machine(), "scale": args.scale, "epochs": args.epochs, "runs": runs,
               "seconds": time.perf_counter() - start}  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print(report(results))
    print(f"Results in {args.out / 'results.json'}")
    return 0


def _best(values: list[dict], key: str) -> float:
    return max(v[key] for v in values)


def report(results: dict) -> str:
    runs, scale = results["runs"], results["scale"]
    lines = [
        f"Streaming vs in memory: WNUT17 ner, {results['epochs']} epochs, x1 and x{scale} on disk "
        f"({results['machine'].get('cpus', '?')} CPUs; best of {len(next(iter(runs.values())))} run(s))",
        "",
        "| run | examples/epoch | peak RSS MB | loop words/s | command words/s | wall s |",
        "|---|---|---|---|---|---|",
    ]
    for name, values in runs.items():
        v = values[0]
        lines.append(
            f"| {name} | {v['words'] // max(1, v['epochs']):,} words | {min(x['peak_rss_mb'] for x in values):.0f} "
            f"| {_best(values, 'loop_words_per_second'):,.0f} | {_best(values, 'words_per_second'):,.0f} "
            f"| {min(x['seconds'] for x in values):.0f} |"
        )
    d1, s1, sN, mN = (runs[name] for name in ("default-x1", "streamed-x1", f"streamed-x{scale}", f"in-memory-x{scale}"))
    rss_ratio = min(x["peak_rss_mb"] for x in sN) / min(x["peak_rss_mb"] for x in d1)
    lines += [
        "",
        f"- peak RSS streamed-x{scale} / default-x1: {rss_ratio:.2f} (target <= 1.30)",
        f"- peak RSS in-memory-x{scale} / default-x1: "
        f"{min(x['peak_rss_mb'] for x in mN) / min(x['peak_rss_mb'] for x in d1):.2f} (for comparison)",
    ]
    for label, streamed, in_memory in (("x1", s1, d1), (f"x{scale}", sN, mN)):
        for key, what in (("loop_words_per_second", "loop"), ("words_per_second", "command")):
            ratio = _best(streamed, key) / _best(in_memory, key)
            lines.append(f"- {what} words/s streamed / in memory, {label}: {ratio:.3f} (target >= 0.95)")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
