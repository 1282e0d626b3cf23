"""The data of the evidence study (scripts/evidence/evidence.yml), made from the corpora in ../shared/data.

Writes evidence-data/<task>/{train,dev,test}.* in formats recipe-train reads, the same files on every run:
  wnut17       WNUT17 ner: the first --wnut17-train sentences of train, dev (emerging.dev) and test
               (emerging.test.annotated) as they are (IOB).
  uner         UNER English ner: its dev split without every 10th sentence (train), those sentences (dev), its test.
  ewt          UD English EWT for the tagger and the parser: the first --ewt-train sentences of train (train.conllu,
               the tagger's) and the first --ewt-parser-train (parser-train.conllu), the first --ewt-dev of dev,
               all of test (CoNLL-U).
  tweeteval    TweetEval emotion textcat: train, val (dev) and test, as JSON Lines with one category per text.
  goemotions   GoEmotions textcat_multilabel: the first --goemotions-train comments of train, the first
               --goemotions-dev of dev, all of test, as JSON Lines with every label 0 or 1.
By default every split is whole (0 takes a split whole): the study of scripts/evidence/evidence.yml trains on the
tasks' full training sets. --small writes the sizes of the earlier, 3-hour studies (WNUT17 2,000 training sentences,
EWT 2,000 for the tagger and 1,500 for the parser, 1,000 dev sentences, GoEmotions 4,000 training and 2,000 dev
comments) to evidence-data-small, which scripts/evidence/evidence-optimizer.yml and evidence-gpu.yml read. Every
test split is whole.

Usage: python -m scripts.evidence.data [--small] [--out evidence-data] [--shared ../shared/data]
"""

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from scripts.common import REPO, SHARED

# The sizes of the earlier studies (3 hours with --jobs 2 on 2 cores): flag → sentences or comments.
SMALL = {"wnut17-train": 2000, "ewt-train": 2000, "ewt-parser-train": 1500, "ewt-dev": 1000,
         "goemotions-train": 4000, "goemotions-dev": 2000}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="default: evidence-data (evidence-data-small)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--small", action="store_true", help="the earlier studies' sizes; the flags below win")
    for flag in SMALL:
        parser.add_argument(f"--{flag}", type=int, default=None)
    args = parser.parse_args()
    for flag, small in SMALL.items():
        key = flag.replace("-", "_")
        if getattr(args, key) is None:
            setattr(args, key, small if args.small else 0)
    shared = args.shared
    out = args.out or REPO / ("evidence-data-small" if args.small else "evidence-data")
    if not shared.is_dir():
        print(f"Corpora not found: {shared}. Nothing written.")
        return 1
    wnut = out / "wnut17"
    wnut.mkdir(parents=True, exist_ok=True)
    train = blocks((shared / "wnut17" / "wnut17train.conll").read_text(encoding="utf8"))
    write_blocks(wnut / "train.conll", first(train, args.wnut17_train))
    for name, target in (("emerging.dev.conll", "dev"), ("emerging.test.annotated", "test")):
        shutil.copyfile(shared / "wnut17" / name, wnut / f"{target}.conll")
    uner = out / "uner"
    uner.mkdir(parents=True, exist_ok=True)
    sentences = blocks((shared / "uner-english-ewt-devtest" / "en_ewt-ud-dev.iob2").read_text(encoding="utf8"))
    write_blocks(uner / "train.iob2", [s for i, s in enumerate(sentences) if i % 10 != 9])
    write_blocks(uner / "dev.iob2", [s for i, s in enumerate(sentences) if i % 10 == 9])
    shutil.copyfile(shared / "uner-english-ewt-devtest" / "en_ewt-ud-test.iob2", uner / "test.iob2")
    ewt = out / "ewt"
    ewt.mkdir(parents=True, exist_ok=True)
    source = shared / "ud-english-ewt"
    train = blocks((source / "en_ewt-ud-train.conllu").read_text("utf8"))
    write_blocks(ewt / "train.conllu", first(train, args.ewt_train))
    write_blocks(ewt / "parser-train.conllu", first(train, args.ewt_parser_train))
    write_blocks(ewt / "dev.conllu", first(blocks((source / "en_ewt-ud-dev.conllu").read_text("utf8")), args.ewt_dev))
    shutil.copyfile(source / "en_ewt-ud-test.conllu", ewt / "test.conllu")
    tweeteval(shared / "tweeteval-emotion", out / "tweeteval")
    goemotions(shared / "goemotions", out / "goemotions", args.goemotions_train, args.goemotions_dev)
    for path in sorted(out.rglob("*.*")):
        print(f"{path.relative_to(out)}: {count(path):,} {'sentences' if path.suffix != '.jsonl' else 'texts'}")
    return 0


def blocks(text: str) -> list[str]:
    """Blank-line separated blocks (sentences of CoNLL-U and IOB files)."""
    return [block.strip("\n") for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def first(items: list[str], n: int) -> list[str]:
    """The first n items, or all of them for n = 0."""
    return items[:n] if n else items


def write_blocks(path: Path, sentences: list[str]) -> None:
    path.write_text("\n\n".join(sentences) + "\n\n", encoding="utf8")


def count(path: Path) -> int:
    text = path.read_text(encoding="utf8")
    return len(text.splitlines()) if path.suffix == ".jsonl" else len(blocks(text))


def tweeteval(source: Path, out: Path) -> None:
    """One tweet per line in *_text.txt, its label id on the same line of *_labels.txt."""
    out.mkdir(parents=True, exist_ok=True)
    names = dict(line.split("\t") for line in (source / "mapping.txt").read_text().splitlines() if line)
    for split, target in (("train", "train"), ("val", "dev"), ("test", "test")):
        texts = (source / f"{split}_text.txt").read_text(encoding="utf8").splitlines()
        labels = (source / f"{split}_labels.txt").read_text().split()
        with (out / f"{target}.jsonl").open("w", encoding="utf8") as f:
            for text, label in zip(texts, labels, strict=True):
                cats = {name: float(idx == label) for idx, name in names.items()}
                f.write(json.dumps({"text": text.strip(), "cats": cats}, ensure_ascii=False) + "\n")


def goemotions(source: Path, out: Path, n_train: int, n_dev: int) -> None:
    """text<TAB>label ids<TAB>id, split on tabs alone (the texts hold CSV-style quotes)."""
    out.mkdir(parents=True, exist_ok=True)
    names = (source / "labels.txt").read_text().split()
    for split, limit in (("train", n_train), ("dev", n_dev), ("test", 0)):
        lines = (source / f"{split}.tsv").read_text(encoding="utf8").splitlines()
        with (out / f"{split}.jsonl").open("w", encoding="utf8") as f:
            for line in first(lines, limit):
                text, ids, _ = line.split("\t")
                chosen = {int(i) for i in ids.split(",")}
                cats = {name: float(i in chosen) for i, name in enumerate(names)}
                f.write(json.dumps({"text": text, "cats": cats}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
