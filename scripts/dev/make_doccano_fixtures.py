"""Write the doccano fixtures of tests/data whose records carry imported data fields, with doccano itself: its own
import pipeline reads a JSON Lines file of texts, labels and data fields into a project (doccano keeps the fields
as the example's meta), and its own export task writes the project out in every text format it offers.

- tests/data/doccano-ner-meta.jsonl: a sequence labelling project of the first 8 sentences of
  tests/data/wnut17-dev.conll that hold an entity (text: the tokens joined by spaces, spans on them).
- tests/data/doccano-emotions-meta.{jsonl,json,csv,txt}: a text classification project of the first 8 comments of
  tests/data/goemotions-multilabel-dev.json, each with its emotions.

Every record is imported with ``sent_id`` (a string id), ``source`` (a string shared by every record),
``position`` (a number) and ``meta`` (a nested object) beside its text and label: the fields a user imports.

Usage: DOCCANO_HOME=/tmp/doccano-home /tmp/dc/bin/python -m scripts.dev.make_doccano_fixtures [--out tests/data]
       python -m scripts.dev.make_doccano_fixtures --smoke   (builds the records; runs doccano only where it is
       installed, writing to a temporary folder; says so and exits 0 where it is not)
doccano is not a dependency of recipe-train, and this script runs with doccano's Python, not recipe-train's: install
it apart (python -m venv /tmp/dc && /tmp/dc/bin/pip install "numpy<2" "marshmallow<4" doccano; its pinned pandas
1.5 needs numpy 1, and its environs needs marshmallow 3), then `doccano init` with the same DOCCANO_HOME, in a new folder (record ids follow the database's).
"""

import argparse
import json
import os
import sys
import tempfile
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from scripts.common import BUNDLED as DATA

# doccano's export format names → the fixture's suffix.
NER_EXPORTS = {"JSONL": "jsonl"}
CLS_EXPORTS = {"JSONL": "jsonl", "JSON": "json", "CSV": "csv", "fastText": "txt"}


def wnut_sentences() -> list[tuple[str, list[list]]]:
    """The first 8 WNUT17 dev sentences with an entity: text (tokens joined by spaces) and [start, end, TAG] spans."""
    sentences, tokens = [], []
    for line in [*(DATA / "wnut17-dev.conll").read_text(encoding="utf8").split("\n"), ""]:
        if line.strip():
            word, tag = line.split("\t")[0], line.split("\t")[-1]
            tokens.append((word, tag))
            continue
        if tokens:
            sentences.append(tokens)
        tokens = []
    result = []
    for sentence in sentences:
        text, spans, offset = "", [], 0
        for i, (word, tag) in enumerate(sentence):
            start = offset
            text += word + (" " if i + 1 < len(sentence) else "")
            offset = len(text)
            if tag.startswith("B-"):
                spans.append([start, start + len(word), tag[2:]])
            elif tag.startswith("I-") and spans:
                spans[-1][1] = start + len(word)
        if spans:
            result.append((text, spans))
    return result[:8]


def goemotions_comments() -> list[tuple[str, list[str]]]:
    records = json.loads((DATA / "goemotions-multilabel-dev.json").read_text(encoding="utf8"))[:8]
    return [(text, sorted(k for k, v in annots["cats"].items() if v)) for text, annots in records]


def data_fields(corpus: str, number: int) -> dict:
    return {"sent_id": f"{corpus}-{number}", "source": corpus, "position": number,
            "meta": {"corpus": corpus, "split": "dev"}}  # fmt: skip


def setup_django() -> None:
    home = Path(os.environ.get("DOCCANO_HOME", "~/doccano")).expanduser()
    os.environ["STANDALONE"] = "True"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{home}/db.sqlite3")
    os.environ.setdefault("MEDIA_ROOT", str(home / "media"))
    import backend  # doccano's package: its modules import each other as top-level names

    # doccano's own layout, not this repository's: its Django apps (config, data_import, data_export, ...) are
    # top-level modules inside its installed `backend` folder, which its own manage.py puts on the path likewise.
    sys.path.append(str(Path(backend.__file__).parent))
    import django

    django.setup()


def make_project(kind: str, name: str, records: list[dict], out: Path, exports: dict[str, str]) -> list[Path]:
    from data_export.celery_tasks import export_dataset
    from data_import.datasets import load_dataset
    from data_import.pipeline.catalog import create_file_format
    from data_import.pipeline.readers import FileName
    from django.contrib.auth import get_user_model
    from projects.models import SequenceLabelingProject, TextClassificationProject

    user, _ = get_user_model().objects.get_or_create(username="fixtures")
    model = SequenceLabelingProject if kind == "SequenceLabeling" else TextClassificationProject
    project = model.objects.create(name=name, description=name, project_type=kind, created_by=user,
                                   collaborative_annotation=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "import.jsonl"
        source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf8")
        files = [FileName(full_path=str(source), generated_name=source.name, upload_name=source.name)]
        # As the upload form sends it, with the file's encoding chosen (utf_8) rather than guessed.
        dataset = load_dataset(kind, create_file_format("JSONL"), files, project, column_data="text",
                               column_label="label", encoding="utf_8")  # fmt: skip
        dataset.save(user)
        if dataset.errors:
            raise RuntimeError(f"doccano refused the import: {[e.dict() for e in dataset.errors]}")
    written = []
    for fmt, suffix in exports.items():
        archive = export_dataset(project.id, fmt, confirmed_only=False)
        with zipfile.ZipFile(archive) as zipped:
            (member,) = zipped.namelist()
            path = out / f"{name}.{suffix}"
            path.write_bytes(zipped.read(member))
        os.remove(archive)
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="default: tests/data (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="build the records; run doccano only if installed")
    args = parser.parse_args()
    ner = [{"text": text, "label": spans, **data_fields("wnut17-dev", i)}
           for i, (text, spans) in enumerate(wnut_sentences(), start=1)]  # fmt: skip
    cls = [{"text": text, "label": labels, **data_fields("goemotions-dev", i)}
           for i, (text, labels) in enumerate(goemotions_comments(), start=1)]  # fmt: skip
    spans = sum(len(r["label"]) for r in ner)
    print(f"Records: {len(ner)} sequence labelling ({spans} spans), {len(cls)} text classification")
    try:
        release = version("doccano")
    except PackageNotFoundError:
        print("doccano is not installed (run this with doccano's Python, see the docstring): nothing exported.")
        return 0 if args.smoke else 1
    out = args.out or (Path(tempfile.mkdtemp(prefix="doccano-fixtures-")) if args.smoke else DATA)
    out.mkdir(parents=True, exist_ok=True)
    setup_django()
    files = make_project("SequenceLabeling", "doccano-ner-meta", ner, out, NER_EXPORTS)
    files += make_project("DocumentClassification", "doccano-emotions-meta", cls, out, CLS_EXPORTS)
    print(f"doccano {release}: wrote")
    for path in files:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
