"""Every script in scripts/ runs: its --smoke mode (the bundled slices, one epoch, a temporary folder), as a module
from the repository root (scripts/README.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(module: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m scripts.<module> ARGS` from the repository root, as scripts/README.md runs them."""
    cmd = [sys.executable, "-m", f"scripts.{module}", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def _smoke(module: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    result = _run(module, "--smoke", "--out", str(out), *extra, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    # Two of its four tasks (the tagger's and the morphologizer's are the ner task's code on a CoNLL-U slice): the
    # loop overhead is ner's.
    _smoke("benchmarks.speed", tmp_path / "out", "--tasks", "ner,textcat")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["smoke"] and set(results["tasks"]) == {"ner", "textcat"}
    for task in results["tasks"].values():
        assert task["epochs"] == 1
        for who in ("spacy", "recipe"):
            assert 0 < task[who]["startup_seconds"] < task[who]["seconds"]
            # Every evaluation's time and scores: spaCy evaluates every 200 updates and at the end, recipe-train
            # after the epoch.
            assert task[who]["evaluations"] and all(
                0 < e["at"] < task[who]["seconds"] for e in task[who]["evaluations"]
            )
        best = task["spacy"]["best_dev"]
        assert task["spacy"]["seconds_to_best"] == min(
            e["at"] for e in task["spacy"]["evaluations"] if e["scores"][task["metric"]] >= best - 1e-9
        )
        assert task["recipe"]["seconds_to_quality"] is None or task["recipe"]["seconds_to_quality"] > 0
        assert 0 < task["recipe"]["checkpoint_share"] < 1
        assert 0 <= task["spacy"]["bookkeeping_share"] < 1
    assert "bookkeeping" in results["tasks"]["ner"]["loop_overhead"]


def test_benchmark_says_when_the_corpora_are_absent(tmp_path):
    result = _run("benchmarks.speed", "--data", str(tmp_path / "absent"), "--out", str(tmp_path))
    assert result.returncode == 1
    assert "Benchmark data not found" in result.stdout and "Nothing measured" in result.stdout
    assert not (tmp_path / "results.json").exists()


@pytest.mark.slow
def test_benchmark_eval_smoke(tmp_path):
    _smoke("benchmarks.evaluate", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["run_folder"]["epochs"] == 1 and results["speed_ratio_median"] > 0


@pytest.mark.slow
def test_benchmark_memory_smoke(tmp_path):
    _smoke("benchmarks.memory", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["runs"]) == {"default-x1", "streamed-x1", "streamed-x2", "in-memory-x2"}


@pytest.mark.slow
def test_benchmark_resume_smoke(tmp_path):
    _smoke("benchmarks.resume", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["epoch"] == 1 and results["state_mb"] > 0


@pytest.mark.slow
def test_benchmark_transfer_smoke(tmp_path):
    _smoke("benchmarks.transfer", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["runs"]) == {"base", "plain/seed-0", "rehearse/seed-0"}
    # --rehearse found the base's own training texts through its run's record.
    meta = json.loads((tmp_path / "out" / "rehearse" / "seed-0" / "model-best" / "meta.json").read_text())
    assert meta["rehearsal"]["texts"] == "base" and meta["rehearsal"]["files"][0]["name"] == "wnut17-train.conll"


@pytest.mark.slow
def test_benchmark_transfer_new_type_smoke(tmp_path):
    _smoke("benchmarks.transfer", tmp_path / "out", "--scenario", "new-type")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["runs"]) == {"base", "plain/seed-0", "rehearse/seed-0"}
    assert set(results["runs"]["rehearse/seed-0"]["old"]) == {"f", "PER", "LOC", "ORG"}
    meta = json.loads((tmp_path / "out" / "rehearse" / "seed-0" / "model-best" / "meta.json").read_text())
    assert meta["rehearsal"]["texts"] == "base" and meta["rehearsal"]["files"][0]["name"] == "base-train.spacy"


@pytest.mark.slow
def test_mutation_smoke(tmp_path):
    _smoke("dev.mutation", tmp_path / "out", "--jobs", "1")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["smoke"] and set(results["modules"]) == {"recipe_cli/training/schedules.py"}
    assert 0 < results["killed"] <= results["tested"] == results["mutants"]  # a finished run tests every mutant
    assert results["score_of_tested"] == results["killed"] / results["tested"]
    assert sum(row["mutants"] for row in results["modules"].values()) == results["mutants"]


def test_make_annotation_fixtures_smoke(tmp_path):
    """Without Label Studio installed the script says so and exits 0; the tasks it would create are built."""
    result = _run("dev.make_annotation_fixtures", "--smoke", "--label-studio", str(tmp_path / "absent"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tasks: 12 NER (16 spans), 11 text classification (each with 5 data fields beside its text)" in result.stdout
    assert "Label Studio is not installed" in result.stdout


def test_make_doccano_fixtures_smoke(tmp_path):
    """Without doccano installed the script says so and exits 0; the records it would import are built."""
    result = _run("dev.make_doccano_fixtures", "--smoke", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Records: 8 sequence labelling (12 spans), 8 text classification" in result.stdout
    assert "doccano is not installed" in result.stdout and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_benchmark_sweep_smoke(tmp_path):
    _smoke("benchmarks.sweep", tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["smoke"] and results["trials"] == 2 and set(results["modes"]) == {"by-hand", "jobs-1"}
    modes = results["modes"]
    assert results["overhead_share"] == pytest.approx(
        modes["jobs-1"]["median_seconds"] / modes["by-hand"]["median_seconds"] - 1, abs=1e-3
    )
    assert 0 < modes["jobs-1"]["driver_seconds"][0] < modes["jobs-1"]["seconds"][0]
    rows = (tmp_path / "out" / "jobs-1" / "trials.jsonl").read_text().splitlines()
    assert len(rows) == 2


@pytest.mark.slow
def test_evidence_spacy_smoke(tmp_path):
    result = _smoke("evidence.spacy_train", tmp_path / "out")
    rows = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(rows) == {"emo"} and rows["emo"]["epochs"] == 1 and 0.0 <= rows["emo"]["test_score"] <= 1.0
    assert "| emo | textcat | 1 |" in result.stdout and "not run" in result.stdout


def test_evidence_report_smoke(tmp_path):
    """Made-up rows of two tasks, one unfinished: the page says which, and decides no default before the end."""
    _smoke("evidence.report", tmp_path / "out")
    page = (tmp_path / "out" / "evidence.md").read_text()
    assert (tmp_path / "out" / "evidence" / "results.png").stat().st_size > 0
    hours = "The finished trials' wall times add up to 0.5 hours"
    assert f"**45 of 54 trials finished**; finished tasks: ner. {hours}" in page
    assert "two trials at a time).\n\nThe textcat trials ran on another machine.\n\n## The tasks" in page
    # No simple references computed for the made-up tasks: the table says so.
    assert "| ner | | | | | not computed | | 0.5010 | 0.4994 |" in page
    assert "| dropout-share | better | no clear difference (n=2, unfinished) |" in page
    assert "- `dropout-share`: undecided: the study has not finished (better on ner, worse on no task so far)." in page
    assert "Until the study has finished, the goal is measured for `recipe` (RECIPE.md's letter" in page
    assert "The default is" not in page
    assert "### ner (ner)" in page and "### textcat (textcat)" in page
    # The GPU trials' section: its note, and the row beside the study's recipe speed on CPU.
    assert "## On a GPU\n\nOn a made-up GPU.\n\n| task |" in page
    assert "| ner | ner | 1 | 500 | 0.2500 | 400 | 1,000 |" in page


@pytest.mark.slow
def test_benchmark_update_smoke(tmp_path):
    out = tmp_path / "update.json"
    _smoke("benchmarks.update", out, "--tasks", "wnut17,tweeteval", "--optimizers", "Adam.v1,recipe.SparseAdam.v1")
    results = json.loads(out.read_text())
    assert set(results["tasks"]) == {"wnut17", "tweeteval"}
    for rows in results["tasks"].values():
        assert set(rows) == {"Adam.v1", "recipe.SparseAdam.v1"}
        for row in rows.values():
            assert row["early_ms"] > 0 and row["late_ms"] > 0 and 0 < row["optimizer_share"] < 1


def test_evidence_optimizer_smoke(tmp_path):
    """The optimizer study's page from a made-up finished study: the decision per task and the raw rows beside it."""
    _smoke("evidence.optimizer", tmp_path)
    text = (tmp_path / "evidence-optimizer.md").read_text()
    for candidate in ("sparse-adam", "sparse-adam-v2"):
        decision = text.split(f"### {candidate} (")[1].split("###")[0]
        assert "| a | no clear difference |" in decision and "| b | no clear difference |" in decision
        assert f"**{candidate} may become the default**" in decision
    assert "#### a (ner)" in text
    rows = (tmp_path / "evidence-optimizer" / "trials.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 4 * 5


def test_evidence_reference_smoke(tmp_path):
    """The reference model and the chance level on the bundled slices, scored by spaCy's scorer: random scores sit
    at chance (macro AUC about 0.5; macro F of six classes far below the model's), and logistic regression on the
    texts' tokens is above it; for ner, tagger and parser the simple references are above their chance levels
    (no entity: F 0; one tag for every word; a flat tree)."""
    out = tmp_path / "reference.json"
    _smoke("evidence.reference", out)
    results = json.loads(out.read_text())
    metrics = {name: r["metric"] for name, r in results.items()}
    assert metrics == {"wnut17-slice": "ents_f", "ewt-tagger-slice": "tag_acc",
                       "ewt-parser-slice": "(dep_uas + dep_las) / 2", "goemotions-slice": "cats_macro_f",
                       "goemotions-multilabel-slice": "cats_macro_auc"}  # fmt: skip
    assert results["wnut17-slice"]["chance"] == 0.0
    for name in ("wnut17-slice", "ewt-tagger-slice", "ewt-parser-slice"):
        r = results[name]
        assert r["chance"] < r["reference"] < 1.0 and r["train_texts"] == 400 and r["test_texts"] == 150, name
    single, multi = results["goemotions-slice"], results["goemotions-multilabel-slice"]
    assert (single["metric"], multi["metric"]) == ("cats_macro_f", "cats_macro_auc")
    assert (single["labels"], multi["labels"]) == (6, 6)
    assert abs(multi["chance"] - 0.5) < 0.05
    for r in (single, multi):
        assert r["chance"] < r["reference"] <= 1.0 and r["train_texts"] == 500 and r["test_texts"] == 150


def test_the_reference_is_scored_as_spacy_scores(tmp_path):
    """The script's scoring is spaCy's: perfect scores give macro F and AUC 1.0, reversed ones AUC 0.0."""
    import spacy

    from scripts.evidence.reference import score

    nlp = spacy.blank("en")
    texts, labels = ["a b", "c d", "e f"], ["x", "y"]
    gold = [{"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 1.0}, {"x": 1.0, "y": 0.0}]
    perfect = [[cats["x"], cats["y"]] for cats in gold]
    assert score(nlp, texts, gold, labels, perfect, multi_label=False)["cats_macro_f"] == 1.0
    assert score(nlp, texts, gold, labels, perfect, multi_label=True)["cats_macro_auc"] == 1.0
    reversed_ = [[1 - x, 1 - y] for x, y in perfect]
    assert score(nlp, texts, gold, labels, reversed_, multi_label=True)["cats_macro_auc"] == 0.0
