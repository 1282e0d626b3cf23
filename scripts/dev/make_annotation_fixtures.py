"""Write the Label Studio fixtures of tests/data with Label Studio itself: start it locally, create an NER and a
text classification project from the bundled slices, annotate them through its REST API, and export each
project in every text format it offers.

Every task is imported with data fields beside its text, as users import them: a string id (``sent_id``), a
string shared by every task (``source``), numbers (``position``, ``tokens``) and a nested ``meta`` object (see
task_data). Label Studio's flat exports (JSON-MIN, CSV, TSV) put them beside the annotation fields.

- NER: the first 12 sentences of tests/data/wnut17-dev.conll that hold an entity (text: the tokens joined by
  spaces), a <Labels> tag with WNUT17's six types. Task 2's first span takes the space after it (an annotator's
  slip, trimmed on reading); task 3 is annotated twice, the second time (later) without its last entity; task 4
  is skipped (a cancelled annotation, its only one); task 5 has a prediction (never training data).
- Text classification: the first 11 comments of tests/data/goemotions-multilabel-dev.json, a <Choices
  choice="multiple"> tag with the six emotions; the comment's emotions are chosen; task 2 is annotated twice
  (the second time with one emotion more), task 3 is cancelled, task 4 is cancelled and then annotated, task 11
  is never annotated (the JSON export is asked for every task, so that it holds it).
- Single-choice classification: the first 6 of those comments, a <Choices choice="single"> tag with the six
  emotions; the comment's first emotion is chosen. Its flat exports hold nothing but single values: a data
  field and a choice look alike there, and the project's labeling config tells them apart.

Exports (JSON, JSON_MIN, CSV, TSV, and CONLL2003 for NER) go to tests/data/labelstudio-ner.*,
labelstudio-emotions.* and labelstudio-emotion.*, with each project's labeling config as Label Studio returns it
(labelstudio-*.xml). label-studio-converter's CoNLL export of the NER JSON is the reference the tests check the
reader's entity counts against.

Usage: python -m scripts.dev.make_annotation_fixtures [--out tests/data] [--label-studio PATH]
       python -m scripts.dev.make_annotation_fixtures --smoke   (builds the tasks; starts Label Studio only where it
       is installed, writing to a temporary folder; says so and exits 0 where it is not)
Label Studio is not a dependency of recipe-train: install it apart (python -m venv /tmp/ls && /tmp/ls/bin/pip
install label-studio) and pass --label-studio /tmp/ls/bin/label-studio.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import spacy

from recipe_cli.data.formats import read_docs
from scripts.common import BUNDLED as DATA

NER_LABELS = ("corporation", "creative-work", "group", "location", "person", "product")
EMOTIONS = ("admiration", "amusement", "anger", "gratitude", "love", "neutral")
NER_CONFIG = (
    '<View><Labels name="label" toName="text">'
    + "".join(f'<Label value="{label}"/>' for label in NER_LABELS)
    + '</Labels><Text name="text" value="$text"/></View>'
)
CLS_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="emotion" toName="text" choice="multiple">'
    + "".join(f'<Choice value="{label}"/>' for label in EMOTIONS)
    + "</Choices></View>"
)
SINGLE_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="emotion" toName="text" choice="single">'
    + "".join(f'<Choice value="{label}"/>' for label in EMOTIONS)
    + "</Choices></View>"
)
EXPORTS = {"JSON": "json", "JSON_MIN": "min.json", "CSV": "csv", "TSV": "tsv", "CONLL2003": "conll"}
TOKEN = "recipe-fixtures-token-0123456789abcdef0123"


def task_data(text: str, corpus: str, number: int) -> dict:
    """A task's data as a user imports it: the text, and fields that are not annotations."""
    return {
        "text": text,
        "sent_id": f"{corpus}-{number}",
        "source": corpus,
        "position": number,
        "tokens": len(text.split()),
        "meta": {"corpus": corpus, "split": "dev", "license": "CC BY 4.0"},
    }


def ner_tasks() -> list[dict]:
    """Texts and entity results of the NER project (the first 12 WNUT17 dev sentences with an entity)."""
    docs = [doc for doc in read_docs(DATA / "wnut17-dev.conll", spacy.blank("en")) if doc.ents][:12]
    tasks = []
    for doc in docs:
        text = " ".join(token.text for token in doc)
        results, offset, starts = [], 0, []
        for token in doc:
            starts.append(offset)
            offset += len(token.text) + 1
        for ent in doc.ents:
            start = starts[ent.start]
            end = starts[ent.end - 1] + len(doc[ent.end - 1].text)
            results.append(_span(text, start, end, ent.label_))
        tasks.append({"text": text, "result": results, "data": task_data(text, "wnut17-dev", len(tasks) + 1)})
    # Task 2: the first span takes the following space (a slip the reader trims).
    first = tasks[1]["result"][0]["value"]
    if first["end"] < len(tasks[1]["text"]):
        tasks[1]["result"][0] = _span(tasks[1]["text"], first["start"], first["end"] + 1, first["labels"][0])
    return tasks


def cls_tasks() -> list[dict]:
    """Texts and choices of the text classification project (the first 10 GoEmotions comments)."""
    records = json.loads((DATA / "goemotions-multilabel-dev.json").read_text(encoding="utf8"))[:11]
    return [
        {"text": text, "choices": sorted(k for k, v in annots["cats"].items() if v),
         "data": task_data(text, "goemotions-dev", number)}
        for number, (text, annots) in enumerate(records, start=1)
    ]  # fmt: skip


def _span(text: str, start: int, end: int, label: str) -> dict:
    value = {"start": start, "end": end, "text": text[start:end], "labels": [label]}
    return {"value": value, "from_name": "label", "to_name": "text", "type": "labels", "origin": "manual"}


def _choices(choices: list[str]) -> list[dict]:
    value = {"choices": choices}
    return [{"value": value, "from_name": "emotion", "to_name": "text", "type": "choices", "origin": "manual"}]


class LabelStudio:
    """A Label Studio server started in a temporary data folder, driven through its REST API."""

    def __init__(self, executable: str, home: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(home), "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true"}
        env["DJANGO_DB"] = "sqlite"
        self.log = (home / "server.log").open("w")
        self.process = subprocess.Popen(
            [executable, "start", "--no-browser", "--port", str(self.port), "--username", "fixtures@example.org",
             "--password", "fixtures-password", "--user-token", TOKEN, "--data-dir", str(home)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        deadline = time.time() + 600
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Label Studio stopped (see {home / 'server.log'})")
            try:
                self.call("GET", "/api/projects")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(2)
        raise RuntimeError("Label Studio did not answer within 10 minutes")

    def call(self, method: str, path: str, body: object = None, raw: bool = False) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Token {TOKEN}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=300) as response:
            payload = response.read()
        return payload if raw else (json.loads(payload) if payload else None)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def annotate_ner(ls: LabelStudio) -> int:
    project = ls.call("POST", "/api/projects", {"title": "WNUT17 NER", "label_config": NER_CONFIG})["id"]  # type: ignore[index]
    tasks = ner_tasks()
    ls.call("POST", f"/api/projects/{project}/import", [t["data"] for t in tasks])
    ids = sorted(t["id"] for t in ls.call("GET", f"/api/tasks?project={project}&page_size=100")["tasks"])  # type: ignore[index]
    for number, (task_id, task) in enumerate(zip(ids, tasks, strict=True), start=1):
        if number == 4:
            ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": [], "was_cancelled": True})
            continue
        ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": task["result"]})
        if number == 3:
            time.sleep(1.5)  # a later annotation, by updated_at
            ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": task["result"][:-1]})
        if number == 5:
            ls.call("POST", "/api/predictions", {"task": task_id, "result": task["result"][:1], "score": 0.5})
    return project


def annotate_emotions(ls: LabelStudio) -> int:
    project = ls.call("POST", "/api/projects", {"title": "GoEmotions", "label_config": CLS_CONFIG})["id"]  # type: ignore[index]
    tasks = cls_tasks()
    ls.call("POST", f"/api/projects/{project}/import", [t["data"] for t in tasks])
    ids = sorted(t["id"] for t in ls.call("GET", f"/api/tasks?project={project}&page_size=100")["tasks"])  # type: ignore[index]
    for number, (task_id, task) in enumerate(zip(ids, tasks, strict=True), start=1):
        if number == 11:
            continue  # never annotated
        if number in (3, 4):
            ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": [], "was_cancelled": True})
            if number == 3:
                continue
            time.sleep(1.5)  # task 4: cancelled, then annotated
        ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": _choices(task["choices"])})
        if number == 2:
            time.sleep(1.5)
            more = sorted({*task["choices"], "love" if "love" not in task["choices"] else "anger"})
            ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": _choices(more)})
    return project


def annotate_single_choice(ls: LabelStudio) -> int:
    project = ls.call("POST", "/api/projects", {"title": "GoEmotions, one", "label_config": SINGLE_CONFIG})["id"]  # type: ignore[index]
    tasks = cls_tasks()[:6]
    ls.call("POST", f"/api/projects/{project}/import", [t["data"] for t in tasks])
    ids = sorted(t["id"] for t in ls.call("GET", f"/api/tasks?project={project}&page_size=100")["tasks"])  # type: ignore[index]
    for task_id, task in zip(ids, tasks, strict=True):
        ls.call("POST", f"/api/tasks/{task_id}/annotations", {"result": _choices(task["choices"][:1])})
    return project


def export(ls: LabelStudio, project: int, name: str, out: Path, formats: list[str]) -> list[Path]:
    config = out / f"{name}.xml"
    config.write_text(ls.call("GET", f"/api/projects/{project}")["label_config"] + "\n", encoding="utf8")  # type: ignore[index]
    written = [config]
    for fmt in formats:
        # The JSON export holds every task, the ones nobody annotated too (Label Studio's "download all tasks"); the
        # flat exports hold one row per completed annotation.
        every = "&download_all_tasks=true" if fmt == "JSON" else ""
        payload = ls.call("GET", f"/api/projects/{project}/export?exportType={fmt}{every}", raw=True)
        path = out / f"{name}.{EXPORTS[fmt]}"
        path.write_bytes(payload)  # type: ignore[arg-type]
        written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="default: tests/data (--smoke: a temporary folder)")
    parser.add_argument("--label-studio", default=shutil.which("label-studio"), help="the label-studio command")
    parser.add_argument("--smoke", action="store_true", help="build the tasks; run Label Studio only if installed")
    args = parser.parse_args()
    ner, cls = ner_tasks(), cls_tasks()
    print(f"Tasks: {len(ner)} NER ({sum(len(t['result']) for t in ner)} spans), {len(cls)} text classification "
          f"(each with {len(ner[0]['data']) - 1} data fields beside its text)")  # fmt: skip
    if not args.label_studio or not Path(args.label_studio).exists():
        print("Label Studio is not installed (pip install label-studio, apart from recipe-train): nothing exported.")
        return 0 if args.smoke else 1
    out = args.out or (Path(tempfile.mkdtemp(prefix="annotation-fixtures-")) if args.smoke else DATA)
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="label-studio-"))
    ls = LabelStudio(args.label_studio, home)
    try:
        version = ls.call("GET", "/api/version")
        files = export(ls, annotate_ner(ls), "labelstudio-ner", out, list(EXPORTS))
        files += export(ls, annotate_emotions(ls), "labelstudio-emotions", out, ["JSON", "JSON_MIN", "CSV", "TSV"])
        files += export(ls, annotate_single_choice(ls), "labelstudio-emotion", out, ["JSON", "JSON_MIN", "CSV", "TSV"])
    finally:
        ls.stop()
    print(f"Label Studio {version.get('release') if isinstance(version, dict) else version}: wrote")  # type: ignore[union-attr]
    for path in files:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
