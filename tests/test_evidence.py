"""The evidence study's spec (scripts/evidence/evidence.yml) does not rot: it parses with every variant and task,
its spaCy-default settings are still spaCy's own, and a 2-trial version of it trains on the bundled slices."""

import importlib
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import srsly
from thinc.api import Config

from recipe_cli.sweep.ablate import spacy_default_config
from recipe_cli.sweep.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
# The study's scripts, its specs and the config files they name.
EVIDENCE = ROOT / "scripts" / "evidence"
DATA = Path(__file__).parent / "data"


def test_the_spec_parses_with_every_task_and_variant(tmp_path):
    """With empty stand-ins for the data scripts/evidence/data.py makes (the corpora are not in the repository)."""
    study = tmp_path / "scripts" / "evidence"
    shutil.copytree(EVIDENCE, study, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    raw = srsly.read_yaml(EVIDENCE / "evidence.yml")
    for task in raw["tasks"].values():
        for key in ("train", "dev", "test"):
            # Beside the repository's root, where the data goes: the spec's paths are relative to its folder.
            path = (study / task[key]).resolve()
            assert path.parent.parent == tmp_path / "evidence-data", path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    spec = load_spec(study / "evidence.yml")
    tasks = ["wnut17", "uner", "ewt-tagger", "tweeteval", "goemotions", "ewt-parser"]
    assert [t.name for t in spec.tasks] == tasks
    assert spec.baseline == "recipe"
    deciding = ["recipe", "spacy-default", "constant-dropout", "dropout-share"]
    off = ["constant-batch", "no-averaging", "no-grad-clip", "no-l2"]
    assert list(spec.variants) == deciding + off
    trials = spec.trials()
    ran = {variant: sorted({t.task.name for t in trials if t.variant == variant}, key=tasks.index)
           for variant in deciding + off}  # fmt: skip
    # The dropout rows only where a model has a dropout layer; GoEmotions the recipe and spaCy's settings only; the
    # parser the rows that decide the default only.
    dropout = ["wnut17", "uner", "ewt-tagger", "ewt-parser"]
    assert ran == {"recipe": tasks, "spacy-default": tasks, "constant-dropout": dropout, "dropout-share": dropout,
                   **dict.fromkeys(off, tasks[:4])}  # fmt: skip
    for variant in deciding:
        assert sorted({t.seed for t in trials if t.variant == variant}) == [1, 2, 3, 4, 5]
    for variant in off:
        assert sorted({t.seed for t in trials if t.variant == variant}) == [1, 2, 3]
    assert len(trials) == 6 * 2 * 5 + 4 * 2 * 5 + 4 * 4 * 3
    # The study's baseline is RECIPE.md's letter with the packaged optimizer whatever the defaults become: every
    # trial trains from recipe.cfg (beside the spec) but those whose variant brings a config of its own.
    own = {"spacy-default": "spacy-default.cfg", "dropout-share": "dropout-share.cfg"}
    for trial in trials:
        assert trial.config == str(study / own.get(trial.variant, "recipe.cfg")), trial.id


def test_the_study_rows_differ_from_the_recipe_in_their_setting_alone():
    """recipe.cfg is the literal recipe with the packaged optimizer; dropout-share.cfg is recipe.cfg but dropout."""
    from recipe_cli.config.build import LITERAL_RECIPE_FILE, configs_dir

    literal = Config().from_disk(configs_dir() / LITERAL_RECIPE_FILE)["training"]
    recipe = Config().from_disk(EVIDENCE / "recipe.cfg")["training"]
    share = Config().from_disk(EVIDENCE / "dropout-share.cfg")["training"]
    assert recipe["optimizer"]["@optimizers"] == "recipe.SparseAdam.v2"
    assert {**recipe["optimizer"], "@optimizers": "Adam.v1"} == literal["optimizer"]
    assert {k: v for k, v in recipe.items() if k != "optimizer"} == {
        k: v for k, v in literal.items() if k != "optimizer"
    }
    assert share["dropout"]["@schedules"] == "recipe.linear_decay_share.v1"
    assert {k: v for k, v in share.items() if k != "dropout"} == {k: v for k, v in recipe.items() if k != "dropout"}


def test_spacy_default_settings_are_still_spacys_own():
    saved = Config().from_disk(EVIDENCE / "spacy-default.cfg")
    assert saved == spacy_default_config("ner")


@pytest.mark.slow
def test_two_trials_of_the_study_run_on_the_bundled_slices(tmp_path):
    raw = srsly.read_yaml(EVIDENCE / "evidence.yml")
    variants = {name: raw["variants"][name] for name in ("spacy-default", "dropout-share")}
    for name, value in variants.items():
        # The config files, by absolute path (a variant is a file's name, or settings naming one).
        variants[name] = str(EVIDENCE / (value if isinstance(value, str) else value["config"]))
    spec = {
        "tasks": {"emo": {"component": "textcat", "train": str(DATA / "goemotions-train.json"),
                          "dev": str(DATA / "goemotions-dev.json"), "test": str(DATA / "goemotions-dev.json")}},
        "seeds": [1],
        "common": {**raw.get("common", {}), "training.max_epochs": 1, "corpora.train.limit": 100},
        "variants": variants,
        "baseline": "spacy-default",
    }  # fmt: skip
    srsly.write_yaml(tmp_path / "spec.yml", spec)
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "recipe_cli",
        "sweep",
        "run",
        str(tmp_path / "spec.yml"),
        "-o",
        str(out),
        "--jobs",
        "2",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["variant"]: row for row in srsly.read_jsonl(out / "trials.jsonl")}
    assert set(rows) == {"spacy-default", "dropout-share"}
    # Each variant trained with its own settings: spaCy's words-based batches, the planned-updates dropout.
    spacy_cfg = Config().from_disk(out / "trials/emo/spacy-default/seed-1/model-best/config.cfg")
    assert spacy_cfg["training"]["batcher"]["@batchers"] == "spacy.batch_by_words.v1"
    share_cfg = Config().from_disk(out / "trials/emo/dropout-share/seed-1/model-best/config.cfg")
    assert share_cfg["training"]["dropout"]["@schedules"] == "recipe.linear_decay_share.v1"
    # One epoch, every planned update made: the planned number is the epoch's step count.
    (epoch,) = srsly.read_jsonl(out / "trials/emo/dropout-share/seed-1/metrics.jsonl")
    assert share_cfg["training"]["dropout"]["total_steps"] == epoch["step"]


def _script(name: str):
    """A script of scripts/evidence/ as a module (the repository's root is on pytest's path: pyproject.toml)."""
    return importlib.import_module(f"scripts.evidence.{name}")


def test_spacy_train_sees_the_documents_a_trial_sees(tmp_path):
    """scripts/evidence/spacy_train.py converts a task's files into the documents a trial trains and is scored on:
    CoNLL-U in documents of 10 sentences for the parser (its packaged config), of one for the tagger, of 10 for both
    together (the pipeline recipe-train builds for them), or as the task says."""
    import spacy
    from spacy.tokens import DocBin

    spacy_train = _script("spacy_train")
    conllu = DATA / "ewt-dev.conllu"
    sentences = sum(1 for block in conllu.read_text(encoding="utf8").split("\n\n") if block.strip())
    spec = tmp_path / "spec.yml"
    tasks = {"parse": {"component": "parser"}, "tag": {"component": "tagger"},
             "parse-5": {"component": "parser", "overrides": {"corpora.train.sents_per_doc": 5}},
             "tag-parse": {"component": "tagger,parser"}}  # fmt: skip
    for task in tasks.values():
        task.update(train=str(conllu), dev=str(conllu), test=str(conllu))
    srsly.write_yaml(spec, {"tasks": tasks, "seeds": 1, "variants": {"recipe": {}}})
    nlp = spacy.blank("en")
    for task, want in zip(load_spec(spec).tasks, [10, 1, 5, 10], strict=True):
        assert spacy_train.sents_per_doc(task) == want
        path = spacy_train.to_docbin(task.test, task.format, tmp_path / f"{task.name}.spacy", want)
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        assert len(docs) == -(-sentences // want)
        assert [len(list(doc.sents)) for doc in docs[:-1]] == [want] * (len(docs) - 1)


@pytest.mark.parametrize("lead,default", [(0.01, "constant-dropout"), (0.0, "recipe")])
def test_of_two_qualifying_dropout_candidates_the_one_better_head_to_head_becomes_the_default(tmp_path, lead, default):
    """RECIPE.md §8 on a finished made-up study: dropout-share and constant-dropout are both better than the recipe
    on ner and worse nowhere. With constant-dropout `lead` ahead of dropout-share, it beats it head to head and
    becomes the default the goal is measured for; level, neither does and the default stays the recipe.
    fast-compounding, better on ner but worse on textcat, is no default either way."""
    report = _script("report")
    shifts = {("ner", "dropout-share"): 0.02, ("ner", "constant-dropout"): 0.02 + lead,
              ("ner", "fast-compounding"): 0.02, ("textcat", "fast-compounding"): -0.02}  # fmt: skip
    sweep = report.smoke_sweep(tmp_path / "study", shifts, seeds=(1, 2, 3, 4, 5), noise=0.0005, finished=True)
    page = report.build_page(sweep, tmp_path / "absent")
    assert "- `dropout-share`: qualifies (better on ner, worse on no task)." in page
    # Better on one task but worse on another: not a default.
    assert "- `fast-compounding`: stays an option (better on ner, worse on textcat)." in page
    assert f"The default is `{default}`" in page
    if default == "recipe":
        assert "Not the default: no dropout candidate beats the others head to head." in page
        assert "**becomes the default**" not in page
    else:
        assert (
            "- `constant-dropout`: **becomes the default** (better on ner, worse on no task). Against the other "
            "dropout candidates head to head: `dropout-share` is worse on ner, and better on none."
        ) in page
        assert "Not the default: `constant-dropout` beats it head to head (below)." in page
    # The goal's table holds the default's mean score on ner.
    goal = page.split("## The goal", 1)[1]
    row = next(line for line in goal.splitlines() if line.startswith("| ner | "))
    assert float(row.split(" | ")[1]) == pytest.approx(0.5 + (0.02 + lead if lead else 0.0), abs=0.001)


def test_a_task_where_a_setting_does_not_act_is_not_counted_for_it(tmp_path):
    """RECIPE.md §8 counts, for a setting, only the tasks where it acts: a dropout candidate on a model without a
    dropout layer scores exactly as the recipe, seed for seed, and the page says so rather than "no clear
    difference" or "worse on no task" there."""
    report = _script("report")
    shifts = {("ner", "constant-dropout"): 0.02}
    inert = frozenset({("textcat", "constant-dropout"), ("textcat", "dropout-share")})
    sweep = report.smoke_sweep(tmp_path / "study", shifts, seeds=(1, 2, 3, 4, 5), noise=0.0005, finished=True,
                               inert=inert)  # fmt: skip
    page = report.build_page(sweep, tmp_path / "absent")
    summary = page.split("## Summary", 1)[1].split("## The defaults", 1)[0]
    row = next(line for line in summary.splitlines() if line.startswith("| constant-dropout |"))
    assert row == "| constant-dropout | better | does not act (identical seed for seed) |"
    assert (
        "- `constant-dropout`: **becomes the default** (better on ner, worse on no task; counted where its setting "
        "acts (ner), not on textcat, where every seed scored exactly as the recipe)."
    ) in page
    # A variant that acts everywhere says nothing of the kind.
    assert "- `fast-compounding`: stays an option (better on no task, worse on no task)." in page


@pytest.mark.parametrize("reference,default", [(0.6, "constant-dropout"), (0.54, "recipe"), (0.45, "recipe")])
def test_a_task_no_row_trained_near_its_simple_reference_counts_for_nothing(tmp_path, reference, default):
    """RECIPE.md §8 decides on trained models. constant-dropout is better on ner and worse on textcat. Where neither
    the recipe nor spaCy's settings come near textcat's simple reference (scores near 0.5 against 0.6, a fifth of
    the way to chance, 0.1), textcat counts neither for §8 nor for the goal, and the page says so: constant-dropout
    becomes the default. Where they reach it (0.45), or stay below it by less than a tenth of the way to chance
    (0.54: 0.044), textcat counts, and constant-dropout, worse there, stays an option."""
    report = _script("report")
    shifts = {("ner", "constant-dropout"): 0.02, ("textcat", "constant-dropout"): -0.02}
    sweep = report.smoke_sweep(tmp_path / "study", shifts, seeds=(1, 2, 3, 4, 5), noise=0.0005, finished=True)
    references = {task: {"component": task, "metric": "score", "reference": reference, "chance": 0.1}
                  for task in ("ner", "textcat")}  # fmt: skip
    references["ner"]["reference"] = 0.3
    (sweep / report.REFERENCE_FILE).write_text(json.dumps(references), encoding="utf8")
    page = report.build_page(sweep, tmp_path / "absent")
    assert f"The default is `{default}`" in page
    goal = page.split("## The goal", 1)[1]
    if default == "constant-dropout":
        assert "- `constant-dropout`: **becomes the default** (better on ner, worse on no task; not counted on " \
               "textcat (no row came near its simple reference))." in page  # fmt: skip
        weak = next(line for line in page.splitlines() if line.startswith("Not counted below"))
        assert weak.startswith("Not counted below (neither for RECIPE.md §8 nor for the goal): textcat, where recipe ")
        assert "stay below its simple reference's 0.6000 by more than 10% of the way to chance (0.1000)." in weak
        assert "ner" not in weak.split(". ")[0]
        # Worse than spaCy's settings on textcat, which does not count.
        assert "| textcat | 0.48" in goal and "over 1 task (textcat not counted: no row came near its simple " \
               "reference): in score, better on ner, worse on none;" in goal  # fmt: skip
    else:
        assert "- `constant-dropout`: stays an option (better on ner, worse on textcat)." in page
        assert "Not counted below" not in page and "over 2 tasks:" in goal


def test_the_page_is_rebuilt_from_its_published_rows(tmp_path):
    """docs/evidence/ holds the study's rows (sweep.json, trials.jsonl) and the page is a function of them alone:
    a small committed study (made-up rows: tests/data/evidence-small) rebuilds its committed page exactly. After an
    intended change to the page, write the expected page again with scripts.evidence.report.build_page on that
    folder."""
    report = _script("report")
    committed = Path(__file__).parent / "data" / "evidence-small"
    rows = tmp_path / "evidence"
    shutil.copytree(committed, rows)
    page = report.build_page(rows, tmp_path / "absent")
    assert page == (committed / "evidence.md").read_text(encoding="utf8")
    # Publishing the published rows again changes nothing; a study folder elsewhere is published with the paths
    # inside the repository made relative.
    report.publish(rows, rows)
    assert (rows / "trials.jsonl").read_bytes() == (committed / "trials.jsonl").read_bytes()
    study = tmp_path / "study"
    shutil.copytree(committed, study)
    row = json.loads((study / "trials.jsonl").read_text(encoding="utf8").splitlines()[0])
    row["config"] = str(report.REPO / "configs" / "recipe-literal.cfg")
    (study / "trials.jsonl").write_text(json.dumps(row) + "\n", encoding="utf8")
    report.publish(study, tmp_path / "docs")
    assert json.loads((tmp_path / "docs" / "trials.jsonl").read_text())["config"] == "configs/recipe-literal.cfg"


def test_a_variant_the_spec_leaves_out_of_a_task_is_said_so_and_not_counted_there(tmp_path):
    """A spec may run a variant on some tasks only (`tasks: [...]`): the page says "left out" there (not "not run
    yet"), §8 decides on the tasks it ran on, and says which it was not run on."""
    report = _script("report")
    shifts = {("ner", "constant-dropout"): 0.02}
    left_out = frozenset({("textcat", "constant-dropout"), ("textcat", "dropout-share")})
    sweep = report.smoke_sweep(tmp_path / "study", shifts, seeds=(1, 2, 3, 4, 5), noise=0.0005, finished=True,
                               left_out=left_out)  # fmt: skip
    page = report.build_page(sweep, tmp_path / "absent")
    summary = page.split("## Summary", 1)[1].split("## The defaults", 1)[0]
    row = next(line for line in summary.splitlines() if line.startswith("| constant-dropout |"))
    assert row == "| constant-dropout | better | left out |"
    assert (
        "- `constant-dropout`: **becomes the default** (better on ner, worse on no task; not run on textcat (left out "
        "by the study's spec))."
    ) in page
    assert "not run yet" not in summary


def test_the_page_says_where_each_schedule_ended():
    """From the rows' per-epoch schedule: a trial whose dropout stopped changing ended at the first epoch with its
    last rate; one still falling at its last epoch has not ended, and the table counts it so. How each seed
    stopped: patience, or the epoch cap, and of those the seeds still improving (best at the last epoch)."""
    report = _script("report")
    ended = [[1, 1000, 0.5, 2], [2, 2500, 0.35, 8], [3, 4100, 0.2, 16], [4, 5200, 0.2, 16]]
    moving = [[1, 1000, 0.5, 2], [2, 2500, 0.35, 8], [3, 3600, 0.24, 16]]
    limits = {"training.max_epochs": 4, "training.patience": 2}
    rows = [
        {"task": "ner", "variant": "recipe", "seed": 1, "best_epoch": 4, "epochs": 4, "schedule": ended,
         "overrides": limits},
        {"task": "ner", "variant": "recipe", "seed": 2, "best_epoch": 1, "epochs": 3, "schedule": moving,
         "overrides": limits},
        {"task": "ner", "variant": "spacy-default", "seed": 1, "best_epoch": 1, "epochs": 2,
         "schedule": [[1, 90, 0.1, 1000], [2, 180, 0.1, 1000]],
         "overrides": {"training.max_epochs": 2, "training.patience": 3}},
    ]  # fmt: skip
    lines = report.schedule_table(rows, ["ner", "textcat"], ["recipe", "spacy-default", "no-l2"])
    assert lines[0] == "## Where the schedules ended"
    assert lines[-3:] == [
        "| ner | recipe | 3.5 | 2.5 | 4,400 | 0.220 | 16.0 | 3.0 (1/2) | 1/2 | 1/2 | 1/2 |",
        "| ner | spacy-default | 2.0 | 1.0 | 180 | 0.100 | 1000.0 | 1.0 (1/1) | 0/1 | 1/1 | 0/1 |",
        "",
    ]
    # Rows of an older sweep record no schedule: no section.
    assert report.schedule_table([{**row, "schedule": None} for row in rows], ["ner"], ["recipe"]) == []


def test_published_rows_name_no_machines_folders(tmp_path):
    """Paths inside the repository the study ran from (its own clone) are published relative to it, wherever they
    sit in a row; other text, and paths outside it, are kept."""
    report = _script("report")
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    sweep = clone / "evidence"
    sweep.mkdir()
    row = {"config": f"{clone}/scripts/evidence/recipe.cfg", "test": {"data": [f"{clone}/data/test.conll"]},
           "note": "a/b", "other": "/usr/share/dict/words", "seed": 1}  # fmt: skip
    (sweep / "trials.jsonl").write_text(json.dumps(row) + "\n")
    (sweep / "sweep.json").write_text(json.dumps({"spec": f"{clone}/scripts/evidence.yml"}))
    report.publish(sweep, tmp_path / "published")
    (published,) = [json.loads(line) for line in (tmp_path / "published" / "trials.jsonl").read_text().splitlines()]
    assert published == {**row, "config": "scripts/evidence/recipe.cfg", "test": {"data": ["data/test.conll"]}}
    assert json.loads((tmp_path / "published" / "sweep.json").read_text()) == {"spec": "scripts/evidence.yml"}


def test_spacy_trains_results_are_published_beside_the_rows_and_the_page_reads_them_there(tmp_path):
    """scripts/evidence/spacy_train.py's folder is published with the rows (spacy-train.json, spacy-train.md), so
    that the page rebuilt from docs/evidence alone still has `spacy train`'s table; without them it says not run."""
    report = _script("report")
    committed = Path(__file__).parent / "data" / "evidence-small"
    spacy = tmp_path / "evidence-spacy"
    spacy.mkdir()
    results = {"ner": {"component": "ner", "epochs": 3, "test_score": 0.5004, "seconds": 61.4, "metric": "ents_f"}}
    (spacy / "results.json").write_text(json.dumps(results), encoding="utf8")
    (spacy / "NOTES.md").write_text("Trained on another machine.\n", encoding="utf8")
    published = tmp_path / "docs" / "evidence"
    report.publish(committed, published, spacy)
    assert json.loads((published / "spacy-train.json").read_text(encoding="utf8")) == results
    assert (published / "spacy-train.md").read_text(encoding="utf8") == "Trained on another machine.\n"
    section = report.build_page(published, tmp_path / "absent").split("## `spacy train` itself\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    seeds = [json.loads(line)["test_score"] for line in (committed / "trials.jsonl").read_text().splitlines()
             if json.loads(line)["id"].startswith("ner/spacy-default/")]  # fmt: skip
    mean, sd = statistics.mean(seeds), statistics.stdev(seeds)
    assert section.startswith("\nTrained on another machine.\n\n`spacy train` (seed 1) against the study's ")
    assert f"| ner | ner | 3 | 0.500 | 61 | {mean:.3f} ± {sd:.3f}, {len(seeds)} |" in section
    # Published rows alone, without spaCy's results: the page says how to make them.
    rows = tmp_path / "rows"
    shutil.copytree(committed, rows)
    alone = report.build_page(rows, tmp_path / "absent").split("## `spacy train` itself\n", 1)[1]
    assert alone.startswith("\nNot run yet: `python -m scripts.evidence.spacy_train`")
