"""The evidence study's page: docs/evidence.md, and in docs/evidence/ the study's rows and the sweep's report, from a
run of scripts/evidence/evidence.yml.

Reads the study's folder (what `recipe-sweep run scripts/evidence/evidence.yml -o evidence` wrote, finished or not),
publishes its rows in docs/evidence/ (sweep.json and trials.jsonl: every trial's test scores, dev curve with seconds,
words/s and config fingerprint), builds the page from those published rows (`--sweep docs/evidence` builds it again
from them alone), and writes, in this order:
  - SWEEP/NOTES.md, where the study's folder has one (what the rows cannot say: where a share of the trials ran),
    and SWEEP/COMMIT, the commit the study ran at;
  - the tasks: each one's metric, its chance level and a simple reference model's score (reference.json); a task
    where neither the recipe nor spaCy's settings come near the reference counts neither for §8 nor for the goal;
  - the summary: each variant against the recipe (RECIPE.md's letter, scripts/evidence/recipe.cfg), task by
    task: better / worse / no clear difference by the sweep's rule (every seed's paired difference on the same
    side of 0 and the Holm-corrected paired t-test below 0.05), "not run yet", or "left out" where the spec
    does not run the variant on the task;
  - RECIPE.md §8's rule for each candidate: it becomes the default when it is better than the recipe on at least
    one task and worse on none; decided only once every task of the study has finished;
  - the goal: the default against spaCy's own settings on each task, in test score and in time to quality (the
    seconds until a trial's dev score first reaches spacy-default's mean best dev score, seed against seed, by
    the same rule, lower is better);
  - where each variant's schedules ended (the rows' per-epoch update, dropout and batch size), where rows hold them;
  - the rows an earlier protocol of the study made and a later one replaced (SWEEP/trials-superseded.jsonl, where
    there is one), compared alike: what the change of protocol changed;
  - per task, the table `recipe-sweep report evidence --quality-of spacy-default` prints, and the plot;
  - `spacy train` itself beside the spacy-default row, where scripts/evidence/spacy_train.py has run (its results
    published beside the rows);
  - one GPU trial per task (scripts/evidence/evidence-gpu.yml, run with recipe-sweep where a GPU is), where it has run;
  - the spec, and the commands that reproduce the page.

Usage: python -m scripts.evidence.report [--sweep evidence] [--spacy evidence-spacy] [--gpu evidence-gpu] [--out docs]
       python -m scripts.evidence.report --sweep docs/evidence   (the page again, from the published rows)
       python -m scripts.evidence.report --smoke   (a study folder made of the bundled test slices' rows
                                                   written here, no training; a temporary output folder)
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from scripts.common import REPO

SPEC = REPO / "scripts" / "evidence" / "evidence.yml"
BASELINE = "recipe"
SPACY = "spacy-default"
CANDIDATES = ("dropout-share", "constant-dropout", "fast-compounding")
# The setting each candidate changes: candidates for one setting are alternatives, and where several qualify, the
# default is the one that beats the others head to head by the same rule.
SETTING = {"dropout-share": "dropout", "constant-dropout": "dropout", "fast-compounding": "batch size"}
ELEMENTS_OFF = ("constant-batch", "no-averaging", "no-grad-clip", "no-l2")
NOT_RUN = "not run yet"
# A variant the study's spec does not run on a task (a setting that cannot act there, say).
LEFT_OUT = "left out"
# A variant whose every paired seed scored exactly as the recipe: its setting does not act on that task's model.
INERT = "does not act (identical seed for seed)"
# A note the study's folder may hold, put on the page as it is.
NOTES_FILE = "NOTES.md"
# The commit the study ran at (its first line: the hash, then the subject), and the simple reference models'
# scores (scripts/evidence/reference.py --out), which the study's folder may hold; published beside the rows.
COMMIT_FILE = "COMMIT"
REFERENCE_FILE = "reference.json"
# How far below its simple reference a task's rows may stay and still count as trained: this share of the way
# from the reference back to chance (a bag-of-words textcat is itself a linear model on word counts: level with a
# logistic regression is trained, a tenth of the way back to chance is not).
FAR_BELOW = 0.1
# scripts/evidence/spacy_train.py's results and notes in its folder, and their names where they are published.
SPACY_RESULTS = "results.json"
SPACY_PUBLISHED, SPACY_NOTES = "spacy-train.json", "spacy-train.md"
# The rows of trials an earlier protocol of the study ran and a later one replaced (NOTES.md says why).
SUPERSEDED_FILE = "trials-superseded.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", type=Path, default=REPO / "evidence", help="the study's folder")
    parser.add_argument(
        "--spacy", type=Path, default=REPO / "evidence-spacy", help="scripts/evidence/spacy_train.py's folder"
    )
    parser.add_argument(
        "--gpu", type=Path, default=REPO / "evidence-gpu", help="scripts/evidence/evidence-gpu.yml's sweep"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: docs (--smoke: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="made-up rows, no training: checks that it runs")
    args = parser.parse_args()
    from recipe_cli.errors import RecipeError

    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="evidence-report-smoke-"))
        args.sweep = smoke_sweep(args.out / "study")
        args.gpu = smoke_gpu(args.out / "gpu")
    out: Path = args.out or REPO / "docs"
    published = out / "evidence"
    if not (args.sweep / "trials.jsonl").is_file():
        print(f"No finished trials in {args.sweep} (trials.jsonl): nothing written.")
        return 1
    # The page is built from the rows published beside it, so that they are what it says.
    publish(args.sweep, published, args.spacy)
    try:
        page = build_page(published, args.gpu)
    except RecipeError as e:
        print(e)
        return 1
    (out / "evidence.md").write_text(page, encoding="utf8")
    print(f"Wrote {out / 'evidence.md'} and, in {published}, the study's rows and the sweep's report")
    return 0


def publish(sweep: Path, folder: Path, spacy_folder: Path | None = None) -> None:
    """Copy the study's rows into folder (docs/evidence beside the page): sweep.json, trials.jsonl and, where there
    are superseded rows, trials-superseded.jsonl, with every path inside the repository the study ran from (its own
    clone, say) or this one made relative to it, NOTES.md, COMMIT and reference.json where there are, and
    scripts/evidence/spacy_train.py's results (spacy_folder's results.json and NOTES.md, as spacy-train.json and
    spacy-train.md) where it has run. Nothing to do where sweep is folder (the page rebuilt from its published
    rows)."""
    folder.mkdir(parents=True, exist_ok=True)
    if spacy_folder is not None:
        for name, published in ((SPACY_RESULTS, SPACY_PUBLISHED), (NOTES_FILE, SPACY_NOTES)):
            if (spacy_folder / name).is_file() and spacy_folder.resolve() != folder.resolve():
                shutil.copyfile(spacy_folder / name, folder / published)
    if folder.resolve() == sweep.resolve():
        return
    roots = [root for root in (_repository(sweep), REPO) if root is not None]
    meta = _relative(json.loads((sweep / "sweep.json").read_text(encoding="utf8")), roots)
    (folder / "sweep.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf8")
    for name in ("trials.jsonl", SUPERSEDED_FILE):
        if (sweep / name).is_file():
            lines = (sweep / name).read_text(encoding="utf8").splitlines()
            rows = [_relative(json.loads(line), roots) for line in lines if line]
            (folder / name).write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf8")
    for name in (NOTES_FILE, COMMIT_FILE, REFERENCE_FILE):
        if (sweep / name).is_file():
            shutil.copyfile(sweep / name, folder / name)


def _repository(path: Path) -> Path | None:
    """The work tree of the git repository that holds path, or None."""
    for folder in (path.resolve(), *path.resolve().parents):
        if (folder / ".git").exists():
            return folder
    return None


def _relative(value, roots: list[Path]):
    """value (a row, sweep.json) with every absolute path under one of roots made relative to it: the published
    rows name no machine's folders."""
    if isinstance(value, dict):
        return {key: _relative(item, roots) for key, item in value.items()}
    if isinstance(value, list):
        return [_relative(item, roots) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        for root in roots:
            try:
                return Path(value).resolve().relative_to(root).as_posix()
            except ValueError:
                continue
    return value


def build_page(sweep: Path, gpu_folder: Path) -> str:
    """The page's Markdown, from the rows publish() put in sweep; writes the sweep's own results.json/.md/.png on the
    way (as recipe-sweep report)."""
    from recipe_cli.sweep.report import build_report, write_report
    from recipe_cli.sweep.run import read_results

    report = build_report(sweep, BASELINE, quality_of=SPACY)
    tables = write_report(sweep, report)
    meta = json.loads((sweep / "sweep.json").read_text(encoding="utf8"))
    tasks = list(meta["tasks"])
    finished = [task for task in tasks if task in report["tasks"] and not _unfinished(report, task)]
    total, left = len(meta.get("trials", [])), len(report["unfinished"])
    hours = sum(row.get("wall_seconds", 0.0) for row in read_results(sweep)) / 3600

    lines = ["# Evidence: what each element of the recipe buys, and the defaults it chose", ""]
    lines += [
        "The study: [`scripts/evidence/evidence.yml`](../scripts/evidence/evidence.yml), "
        f"{len(tasks)} tasks on real corpora, each variant trained with several seeds and scored on the task's test split (model-best, chosen on dev). "
        f"Status: **{total - left} of {total} trials finished**"
        + (f"; finished tasks: {', '.join(finished) or 'none yet'}." if left else ", every task finished.")
        + f" The finished trials' wall times add up to {hours:.1f} hours ({hours / 2:.1f} with `--jobs 2` on 2 "
        "cores, two trials at a time)" + _replaced_hours(sweep) + "." + _commit(sweep),
        "",
    ]
    # What the rows cannot say about themselves (where a share of the trials ran, say), kept in the study's folder.
    lines += _notes(sweep)
    references = _references(sweep)
    lines += tasks_table(references, report, tasks)
    # RECIPE.md §8 decides on trained models: a task no row trained near a simple reference's level counts for nothing.
    weak = below_reference(references, report, tasks)
    if weak:
        lines += [
            "Not counted below (neither for RECIPE.md §8 nor for the goal): "
            + "; ".join(f"{task}, {said}" for task, said in weak.items())
            + ". Where neither the recipe nor spaCy's own settings train the model near a simple reference's level, "
            "the task says more about the model than about the settings compared; its rows stay on the page.",
            "",
        ]
    lines += [
        "Every comparison is seed against seed (the same seed trains both variants), against `recipe`, RECIPE.md to "
        "the letter with the packaged optimizer ([`recipe.cfg`](../scripts/evidence/recipe.cfg)): *better* (*worse*) only when every seed's difference is above (below) 0 and the paired t-test, "
        "Holm-corrected across the variants of a task, gives p < 0.05; anything else is *no clear difference*. One "
        "seed moves NER F1 by about a point, so single runs decide nothing here.",
        "",
        "## Summary: each variant against the recipe",
        "",
        "| variant | " + " | ".join(tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    variants = [v for v in meta["variants"] if v != BASELINE]
    ran = ran_on(meta, tasks)
    for variant in variants:
        cells = [_verdict(report, task, variant) if task in ran[variant] else LEFT_OUT for task in tasks]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rows: spaCy's own training settings (`spacy-default`); the candidates for a better default; each element "
        "of the recipe switched off (a *worse* there means the element helps). *left out*: the study's spec does "
        "not run the row on that task (the spec's comments say why: a dropout row on a model without a dropout "
        "layer, say).",
        "",
        "## The defaults (RECIPE.md §8)",
        "",
        "A candidate becomes the default when it is better than the recipe on at least one task and worse on none, "
        "counted over the tasks where its setting acts: a task where every seed scored exactly as the recipe (a "
        "dropout rate on a model without a dropout layer, say) is evidence neither way, and the page says which.",
        "",
    ]
    counted = {v: [task for task in on if task not in weak] for v, on in ran.items()}
    qualifying = [c for c in CANDIDATES if c in meta["variants"] and _qualifies(report, counted[c], c, left)]
    chosen, why = choose_defaults(sweep, [task for task in tasks if task not in weak], qualifying)
    for candidate in CANDIDATES:
        if candidate not in meta["variants"]:
            lines.append(f"- `{candidate}`: not a row of this study.")
            continue
        left_out = [task for task in tasks if task not in ran.get(candidate, tasks)]
        not_counted = [task for task in ran.get(candidate, tasks) if task in weak]
        decision = _decision(report, counted.get(candidate, tasks), candidate, left, chosen=candidate in chosen,
                             left_out=left_out, weak=not_counted)  # fmt: skip
        if candidate in why:
            decision += f" {why[candidate]}"
        lines.append(f"- `{candidate}`: {decision}")
    # The default the goal is measured for: the chosen candidate (one setting changed), or the recipe as it is.
    default = chosen[0] if len(chosen) == 1 else BASELINE
    goal = report if default == BASELINE else build_report(sweep, default, quality_of=SPACY)
    lines += ["", "## The goal: the default against spaCy's settings", ""]
    if left:  # (no default is chosen before every task has finished)
        said = (f"Until the study has finished, the goal is measured for `{BASELINE}` (RECIPE.md's letter, with the "
                "packaged optimizer); the default is decided above once every task has finished.")  # fmt: skip
    elif default == BASELINE:
        said = f"The default is `{default}` (RECIPE.md's letter, with the packaged optimizer)."
    else:
        said = f"The default is `{default}` (the recipe with the {SETTING[default]} the study chose)."
    lines += [
        said,
        "",
        "| task | default test score | spacy-default | score | default s to quality | spacy-default | "
        "time to quality |",
        "|---|---|---|---|---|---|---|",
    ]
    times = time_to_quality(sweep, goal, default)
    verdicts: dict[str, dict[str, list[str]]] = {"score": {}, "time to quality": {}}
    for task in tasks:
        entry = goal["tasks"].get(task)
        if not entry or default not in entry["variants"] or SPACY not in entry["variants"]:
            lines.append(f"| {task} | {NOT_RUN} | | | | | |")
            continue
        ours, theirs = entry["variants"][default], entry["variants"][SPACY]
        score = _flip(entry["comparisons"].get(SPACY, {}).get("verdict"))
        lines.append(
            f"| {task} | {ours['mean']:.4f} | {theirs['mean']:.4f} | {score} | {_seconds(ours)} | "
            f"{_seconds(theirs)} | {times.get(task, '')} |"
        )
        if task in weak:
            continue
        for name, verdict in (("score", score), ("time to quality", times.get(task, ""))):
            verdicts[name].setdefault(verdict.split(" (")[0], []).append(task)
    lines += [
        "",
        "*score* and *time to quality* are the default's verdict against spaCy's settings (the rule above, seed "
        "against seed; for time, lower is better and only seeds where both reached the quality are paired).",
        "",
        "The goal (no task worse than spaCy's settings, better on at least half of them, in score or in time to "
        f"quality), over {len(tasks) - len(weak)} task{'s' if len(tasks) - len(weak) != 1 else ''}"
        + (f" ({', '.join(weak)} not counted: no row came near its simple reference)" if weak else "")
        + ": "
        + "; ".join(
            f"in {name}, better on {', '.join(v.get('better', [])) or 'none'}, "
            f"worse on {', '.join(v.get('worse', [])) or 'none'}"
            for name, v in verdicts.items()
        )
        + ".",
        "",
    ]
    lines += schedule_table(read_results(sweep), tasks, list(meta["variants"]))
    lines += superseded_table(sweep, list(meta["variants"]))
    lines += [
        "## Per task",
        "",
        "![Each variant's seeds, their mean and its 95% interval](evidence/results.png)",
        "",
    ]
    per_task = tables.split("\n## ", 1)
    lines.append("### " + per_task[1].replace("\n## ", "\n### ") if len(per_task) > 1 else "")
    lines += ["", "## `spacy train` itself", ""]
    lines.append(spacy_table(sweep))
    lines += ["", "## On a GPU", ""]
    lines.append(gpu_table(gpu_folder, sweep))
    lines += [
        "",
        "## Reproduce",
        "",
        "```sh",
        "python -m scripts.evidence.data                                      # the study's data, from ../shared/data",
        "recipe-sweep run scripts/evidence/evidence.yml -o evidence --jobs 2  # a re-run continues where it stopped",
        "python -m scripts.evidence.spacy_train                               # spacy train, one seed per task",
        "recipe-sweep run scripts/evidence/evidence-gpu.yml -o evidence-gpu   # one GPU trial per task, where a GPU is",
        "python -m scripts.evidence.report                                    # this page, its rows published in docs/evidence/",
        "python -m scripts.evidence.report --sweep docs/evidence              # this page again, from the published rows",
        "```",
        "",
    ]
    return "\n".join(lines)


def choose_defaults(sweep: Path, tasks: list[str], qualifying: list[str]) -> tuple[list[str], dict[str, str]]:
    """The candidates that become defaults: of those that qualify for one setting, the one that is better than each
    other head to head (the report with it as the baseline) on some task and worse on none; none where no one is.
    Also what the page says of each qualifying candidate."""
    from recipe_cli.sweep.report import build_report

    chosen, why = [], {}
    for setting in dict.fromkeys(SETTING[c] for c in qualifying):
        rivals = [c for c in qualifying if SETTING[c] == setting]
        if len(rivals) == 1:
            chosen.append(rivals[0])
            continue
        winners = []
        for candidate in rivals:
            h2h = build_report(sweep, candidate)["tasks"]
            # Each other rival against this one: its verdict on each task.
            verdicts = {other: {t: h2h[t]["comparisons"][other]["verdict"] for t in tasks if t in h2h}
                        for other in rivals if other != candidate}  # fmt: skip
            if all("worse" in v.values() and "better" not in v.values() for v in verdicts.values()):
                winners.append(candidate)
                said = "; ".join(f"`{other}` is worse on {', '.join(t for t, v in by_task.items() if v == 'worse')}"
                                 for other, by_task in verdicts.items())  # fmt: skip
                why[candidate] = f"Against the other {setting} candidates head to head: {said}, and better on none."
        if len(winners) == 1:
            chosen.append(winners[0])
            for other in rivals:
                if other != winners[0]:
                    why[other] = f"Not the default: `{winners[0]}` beats it head to head (below)."
        else:
            for candidate in rivals:
                why[candidate] = f"Not the default: no {setting} candidate beats the others head to head."
    return chosen, why


def time_to_quality(sweep: Path, report: dict, ours: str = BASELINE) -> dict[str, str]:
    """Task → a variant's verdict against spacy-default in seconds to quality (seed against seed)."""
    from recipe_cli.sweep.report import time_to
    from recipe_cli.sweep.run import read_results
    from recipe_cli.sweep.stats import decide, paired

    verdicts = {}
    rows = read_results(sweep)
    for task, entry in report["tasks"].items():
        if "quality" not in entry:
            continue
        seconds: dict[str, dict[int, float]] = {ours: {}, SPACY: {}}
        for row in rows:
            if row["task"] == task and row["variant"] in seconds:
                reached = time_to(row.get("curve", []), entry["quality"])
                if reached is not None:
                    seconds[row["variant"]][row["seed"]] = -reached  # lower is better: compare the negatives
        comparison = paired(seconds[ours], seconds[SPACY])
        decide([comparison])
        verdicts[task] = f"{comparison.verdict} (n={comparison.n})"
    return verdicts


def _replaced_hours(sweep: Path) -> str:
    """The wall hours of the superseded trials that were trained again, as a clause ("" where none): a superseded
    trial whose current row's dev scores begin with all of its own was continued, and its hours are in that row
    already (the seconds of its last epoch may differ a little: a resume re-measures its checkpoint time)."""
    from recipe_cli.output.metrics import read_rows
    from recipe_cli.sweep.run import read_results

    path = sweep / SUPERSEDED_FILE
    if not path.is_file():
        return ""

    def scores(curve: list[list[float]]) -> list[tuple[float, float]]:
        return [(point[0], point[1]) for point in curve]

    # (Both read alike: srsly's and json's float parsing can differ in the last digit.)
    current = {row["id"]: scores(row.get("curve", [])) for row in read_results(sweep)}
    rows = [dict(row) for row in read_rows(path)]
    again = [row for row in rows if current.get(row["id"], [])[: len(row["curve"])] != scores(row["curve"])]
    if not again:
        return ""
    hours = sum(row.get("wall_seconds", 0.0) for row in again) / 3600
    return f", besides {hours:.1f} hours of the first runs of {len(again)} trials it trained again"


def _commit(sweep: Path) -> str:
    """Where the study's folder says which commits it ran at (a line each, in order: the commit, then what it
    changed): a sentence naming them."""
    path = sweep / COMMIT_FILE
    if not path.is_file():
        return ""
    parts = []
    for line in path.read_text(encoding="utf8").strip().splitlines():
        commit, _, subject = line.partition(" ")
        parts.append(f"`{commit[:12]}`" + (f" ({subject.strip()})" if subject.strip() else ""))
    return " It ran at commit " + ", then at ".join(parts) + "."


def tasks_table(references: dict, report: dict, tasks: list[str]) -> list[str]:
    """Each task's metric and what it would score by chance, a simple reference model's score
    (scripts/evidence/reference.py, where the study's folder holds its results: _references), and the recipe's and
    spaCy's settings' mean test scores: a task whose models score near chance, or far below the reference, is not
    trained."""
    from scripts.evidence.reference import DESCRIBED

    lines = [
        "## The tasks, their metrics and what a simple model scores",
        "",
        "Each task's score is the metric its config's score_weights make (spaCy's scorer, on the test split); beside "
        "it, what a predictor that has learnt nothing scores, and a simple reference model trained on the same "
        "training file ([`scripts/evidence/reference.py`](../scripts/evidence/reference.py)).",
        "",
        "| task | component | metric | chance level | chance | simple reference | reference | recipe (mean) | "
        "spacy-default (mean) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        ref = references.get(task)
        entry = report["tasks"].get(task, {}).get("variants", {})
        means = [f"{entry[v]['mean']:.4f}" if v in entry else NOT_RUN for v in (BASELINE, SPACY)]
        if ref is None:
            lines.append(f"| {task} | | | | | not computed | | {means[0]} | {means[1]} |")
            continue
        metric, what, chance = DESCRIBED[ref["component"]]
        lines.append(
            f"| {task} | {ref['component']} | {metric} | {chance} | {ref['chance']:.4f} | {what} | "
            f"{ref['reference']:.4f} | {means[0]} | {means[1]} |"
        )
    return [*lines, ""]


def _references(sweep: Path) -> dict:
    """The simple reference models' results the study's folder holds (reference.json), by task; {} where none."""
    path = sweep / REFERENCE_FILE
    return json.loads(path.read_text(encoding="utf8")) if path.is_file() else {}


def below_reference(references: dict, report: dict, tasks: list[str]) -> dict[str, str]:
    """The tasks where no row came near the simple reference model: the recipe's mean test score and spaCy's
    settings' (where they ran) both more than FAR_BELOW of the way from the reference back to chance. RECIPE.md §8
    decides on models trained far from a simple reference's level; such a task counts neither for §8 nor for the
    goal. Task → the scores, said for the page."""
    weak = {}
    for task in tasks:
        entry = report["tasks"].get(task, {}).get("variants", {})
        means = {v: entry[v]["mean"] for v in (BASELINE, SPACY) if v in entry}
        if task not in references or BASELINE not in means:
            continue
        reference, chance = references[task]["reference"], references[task]["chance"]
        if all(mean < reference - FAR_BELOW * (reference - chance) for mean in means.values()):
            scores = " and ".join(f"{v} {mean:.4f}" for v, mean in means.items())
            weak[task] = (
                f"where {scores} stay below its simple reference's {reference:.4f} by more than {FAR_BELOW:.0%} of "
                f"the way to chance ({chance:.4f})"
            )
    return weak


def spacy_table(sweep: Path) -> str:
    """spacy_train.py's table, from its results published beside the study's rows: `spacy train` beside the
    study's spacy-default row."""
    path = sweep / SPACY_PUBLISHED
    if not path.exists():
        return "Not run yet: `python -m scripts.evidence.spacy_train` trains each task once with `spacy train`."
    from scripts.evidence.spacy_train import read_sweep, report

    results = json.loads(path.read_text(encoding="utf8"))
    return "\n".join(
        [*_notes(sweep, SPACY_NOTES), report(results, read_sweep(sweep, next(iter(results.values()))["metric"]))]
    )


def gpu_table(folder: Path, sweep: Path) -> str:
    """scripts/evidence/evidence-gpu.yml's trials (recipe-train --gpu-id 0, short): each task's test score and speed,
    beside the study's recipe trials' speed on CPU."""
    path = folder / "trials.jsonl"
    if not path.exists():
        return (
            "Not run yet: `recipe-sweep run scripts/evidence/evidence-gpu.yml -o evidence-gpu` on a machine with a GPU."
        )
    from recipe_cli.sweep.run import read_results

    cpu: dict[str, list[float]] = {}
    for row in read_results(sweep):
        if row["variant"] == BASELINE and row.get("words_per_second"):
            cpu.setdefault(row["task"], []).append(row["words_per_second"])
    lines = [
        *_notes(folder),
        "| task | component | epochs | training documents | test score | words/s on the GPU | recipe words/s on CPU (study) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in read_results(folder):
        limit = row.get("overrides", {}).get("corpora.train.limit", "all")
        speeds = cpu.get(row["task"])
        on_cpu = f"{sum(speeds) / len(speeds):,.0f}" if speeds else NOT_RUN
        lines.append(f"| {row['task']} | {row['component']} | {row['epochs']} | {limit} | {row['test_score']:.4f} | "
                     f"{row['words_per_second']:,.0f} | {on_cpu} |")  # fmt: skip
    return "\n".join(lines)


def _notes(folder: Path, name: str = NOTES_FILE) -> list[str]:
    """A folder's NOTES.md (or another notes file) as page lines (its text, then a blank line), or none."""
    notes = folder / name
    return [notes.read_text(encoding="utf8").strip(), ""] if notes.is_file() else []


def _unfinished(report: dict, task: str) -> bool:
    return any(trial.startswith(f"{task}/") for trial in report["unfinished"])


def schedule_table(rows: list[dict], tasks: list[str], variants: list[str]) -> list[str]:
    """Where each variant's schedules stood when its trials ended (the rows' per-epoch "schedule": epoch, update,
    dropout, batch size), as the page's lines; none where the rows do not record it (an older sweep).

    A trial's dropout schedule ended when its rate did not change over its last epoch; it ended at the first epoch
    whose rate was the last one's."""
    with_schedule = [row for row in rows if row.get("schedule")]
    if not with_schedule:
        return []
    lines = [
        "## Where the schedules ended",
        "",
        "Means over each variant's seeds: the epochs a trial ran, its best epoch, the update and the dropout rate and "
        "batch size after its last epoch, and the epoch where its dropout stopped changing (with the seeds where it "
        "did; a schedule still moving at the end has not ended). Then how each seed stopped: by patience (its dev "
        "score no better for the task's patience), or by the task's epoch cap, and of those, the seeds whose last "
        "epoch was their best: still improving when the cap stopped them.",
        "",
        "| task | variant | epochs | best epoch | last update | dropout at the end | batch size at the end | "
        "dropout ended at epoch | stopped by patience | by the cap | best at the cap |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        for variant in variants:
            seeds = [row for row in with_schedule if row["task"] == task and row["variant"] == variant]
            if not seeds:
                continue
            ended = [_dropout_ended(row["schedule"]) for row in seeds]
            reached = [epoch for epoch in ended if epoch is not None]
            where = f"{_mean(reached):.1f} ({len(reached)}/{len(seeds)})" if reached else f"— (0/{len(seeds)})"
            last = [row["schedule"][-1] for row in seeds]
            lines.append(
                f"| {task} | {variant} | {_mean(len(row['schedule']) for row in seeds):.1f} | "
                f"{_mean(row['best_epoch'] for row in seeds):.1f} | {_mean(point[1] for point in last):,.0f} | "
                f"{_mean(point[2] for point in last):.3f} | {_mean(point[3] for point in last):.1f} | {where} | "
                f"{_stops(seeds)} |"
            )
    return [*lines, ""]


def superseded_table(sweep: Path, variants: list[str]) -> list[str]:
    """The rows an earlier protocol of the study made and a later one replaced (trials-superseded.jsonl), each
    task's variants against the recipe by the same rule, as the page's lines; none where there are no such rows."""
    from recipe_cli.sweep.report import build_report

    path = sweep / SUPERSEDED_FILE
    if not path.is_file():
        return []
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(path, Path(folder) / "trials.jsonl")
        report = build_report(Path(folder), BASELINE)
        rows = [json.loads(line) for line in path.read_text(encoding="utf8").splitlines() if line]
    lines = [
        "## Rows the study replaced",
        "",
        f"Trials an earlier protocol of the study ran, replaced by the rows above (the notes at the top say why); "
        f"their rows are in [`evidence/{SUPERSEDED_FILE}`](evidence/{SUPERSEDED_FILE}), compared here by the same "
        "rule, Holm-corrected across these variants.",
        "",
        "| task | variant | score | n | Δ vs recipe | p (Holm) | verdict | best epoch | stopped by patience | by the "
        "cap | best at the cap |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, entry in report["tasks"].items():
        for variant in [v for v in variants if v in entry["variants"]]:
            summary = entry["variants"][variant]
            seeds = [row for row in rows if row["task"] == task and row["variant"] == variant]
            comparison = entry["comparisons"].get(variant)
            if comparison is None:
                versus = "(baseline) | |"
            else:
                p = f"{comparison['p_holm']:.3g}" if comparison["p_holm"] is not None else ""
                versus = f"{comparison['mean']:+.4f} | {p} | {comparison['verdict']}"
            sd = f" ± {summary['sd']:.4f}" if summary["sd"] is not None else ""
            lines.append(
                f"| {task} | {variant} | {summary['mean']:.4f}{sd} | {summary['n']} | {versus} | "
                f"{_mean(row['best_epoch'] for row in seeds):.1f} | {_stops(seeds)} |"
            )
    return [*lines, ""]


def _stops(seeds: list[dict]) -> str:
    """The three table cells of how a variant's seeds stopped: by patience, by the cap, and at their best epoch
    when the cap stopped them."""
    stops = [_stopped_by(row) for row in seeds]
    tally = (stops.count("patience"), stops.count("cap") + stops.count("improving"), stops.count("improving"))
    return " | ".join(f"{n}/{len(seeds)}" for n in tally)


def _stopped_by(row: dict) -> str:
    """How a trial's run ended: "patience" (its last `patience` epochs no better than its best), "improving" (the
    epoch cap stopped it at its best epoch), "cap" (the cap stopped it otherwise); "" where its row does not say."""
    overrides = row.get("overrides") or {}
    cap, patience = overrides.get("training.max_epochs"), overrides.get("training.patience")
    if patience and row["epochs"] - row["best_epoch"] >= patience:
        return "patience"
    if cap and row["epochs"] >= cap:
        return "improving" if row["best_epoch"] == row["epochs"] else "cap"
    return ""


def _dropout_ended(schedule: list[list[float]]) -> int | None:
    """The epoch whose dropout rate was the last one's, when the rate did not change over the last epoch."""
    rates = [point[2] for point in schedule]
    if len(rates) > 1 and rates[-1] != rates[-2]:
        return None
    return int(next(point[0] for point in schedule if point[2] == rates[-1]))


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values)


def _verdict(report: dict, task: str, variant: str) -> str:
    entry = report["tasks"].get(task)
    if entry is None or variant not in entry["comparisons"]:
        return NOT_RUN
    comparison = entry["comparisons"][variant]
    done = "" if not _unfinished(report, task) else f" (n={comparison['n']}, unfinished)"
    if not _acts(report, task, variant):
        return INERT + done
    return comparison["verdict"] + done


def _acts(report: dict, task: str, variant: str) -> bool:
    """Whether the variant's setting acts on the task's model: not when every paired seed scored exactly as the
    recipe did (a dropout rate on a model without a dropout layer, say), so the task is no evidence either way."""
    comparison = report["tasks"].get(task, {}).get("comparisons", {}).get(variant)
    return comparison is None or comparison["n"] < 2 or any(diff != 0.0 for diff in comparison["diffs"])


def _sides(report: dict, tasks: list[str], candidate: str) -> tuple[list[str], list[str]]:
    """The tasks where a candidate is better than the recipe, and those where it is worse."""
    verdicts = {task: _verdict(report, task, candidate) for task in tasks}
    better = [task for task, v in verdicts.items() if v.startswith("better")]
    worse = [task for task, v in verdicts.items() if v.startswith("worse")]
    return better, worse


def _counted(report: dict, tasks: list[str], candidate: str) -> str:
    """The tasks §8 counts for a candidate (those where its setting acts), said for the page."""
    inert = [task for task in tasks if task in report["tasks"] and not _acts(report, task, candidate)]
    acting = [task for task in tasks if task not in inert]
    if not inert:
        return ""
    return (
        f"; counted where its setting acts ({', '.join(acting) or 'no task'}), not on {', '.join(inert)}, where "
        "every seed scored exactly as the recipe"
    )


def ran_on(meta: dict, tasks: list[str]) -> dict[str, list[str]]:
    """Variant → the tasks the study's spec runs it on (a variant may name its tasks: `tasks: [...]`), in the
    order of tasks."""
    planned = {tuple(trial.split("/")[:2]) for trial in meta.get("trials", [])}
    return {variant: [task for task in tasks if (task, variant) in planned] for variant in meta["variants"]}


def _qualifies(report: dict, tasks: list[str], candidate: str, left: int) -> bool:
    """RECIPE.md §8: better than the recipe on at least one task and worse on none, once the study has finished."""
    better, worse = _sides(report, tasks, candidate)
    return not left and bool(better) and not worse


def _decision(
    report: dict,
    tasks: list[str],
    candidate: str,
    left: int,
    chosen: bool,
    left_out: list[str] | None = None,
    weak: list[str] | None = None,
) -> str:
    better, worse = _sides(report, tasks, candidate)
    said = f"better on {', '.join(better) or 'no task'}, worse on {', '.join(worse) or 'no task'}"
    said += _counted(report, tasks, candidate)
    if left_out:
        said += f"; not run on {', '.join(left_out)} (left out by the study's spec)"
    if weak:
        said += f"; not counted on {', '.join(weak)} (no row came near its simple reference)"
    if left:
        return f"undecided: the study has not finished ({said} so far)."
    if better and not worse:
        return f"{'**becomes the default**' if chosen else 'qualifies'} ({said})."
    return f"stays an option ({said})."


def _flip(verdict: str | None) -> str:
    """spacy-default's verdict against the recipe, said of the recipe against spacy-default."""
    return {"better": "worse", "worse": "better"}.get(verdict or "", verdict or NOT_RUN)


def _seconds(variant: dict) -> str:
    mean = variant.get("seconds_to_quality_mean")
    return f"{mean:.0f} ({variant['reached_quality']}/{variant['n']})" if mean is not None else "—"


def smoke_sweep(
    folder: Path,
    shifts: dict[tuple[str, str], float] | None = None,
    seeds: tuple[int, ...] = (1, 2, 3),
    noise: float = 0.003,
    finished: bool = False,
    inert: frozenset[tuple[str, str]] = frozenset(),
    left_out: frozenset[tuple[str, str]] = frozenset(),
) -> Path:
    """A study folder holding made-up rows for two tasks, as recipe-sweep writes them: each variant's score is 0.5,
    plus its (task, variant) shift, plus noise; an inert (task, variant) scores exactly as the recipe, seed for
    seed; a left-out one is not in the study at all; unless finished, textcat's last seed has not run."""
    import random

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    if shifts is None:
        shifts = {("ner", "dropout-share"): 0.02, ("textcat", "dropout-share"): -0.01}
    variants = [BASELINE, SPACY, *CANDIDATES, *ELEMENTS_OFF]
    trials, rows = [], []
    for task in ("ner", "textcat"):
        for variant in variants:
            for seed in seeds:
                if (task, variant) in left_out:
                    continue
                trial = f"{task}/{variant}/seed-{seed}"
                trials.append(trial)
                if task == "textcat" and seed == seeds[-1] and not finished:
                    continue  # not finished yet
                score = 0.5 + shifts.get((task, variant), 0.0) + rng.uniform(-noise, noise)
                if (task, variant) in inert:
                    score = next(r["test_score"] for r in rows if r["id"] == f"{task}/{BASELINE}/seed-{seed}")
                curve = [[epoch, score * epoch / 3, 10.0 * epoch] for epoch in (1, 2, 3)]
                rows.append({"id": trial, "task": task, "variant": variant, "seed": seed, "metric": "score",
                             "test_score": score, "best_dev": score, "best_epoch": 3, "epochs": 3,
                             "seconds_to_best": 30.0, "words_per_second": 1000.0, "wall_seconds": 40.0,
                             "curve": curve})  # fmt: skip
    meta = {"tasks": {"ner": "ner", "textcat": "textcat"}, "variants": dict.fromkeys(variants, {}), "baseline": BASELINE,
            "metric": "score", "trials": trials}  # fmt: skip
    (folder / "sweep.json").write_text(json.dumps(meta), encoding="utf8")
    (folder / "trials.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf8")
    (folder / NOTES_FILE).write_text("The textcat trials ran on another machine.\n", encoding="utf8")
    return folder


def smoke_gpu(folder: Path) -> Path:
    """A GPU sweep's folder holding one made-up row."""
    folder.mkdir(parents=True, exist_ok=True)
    row = {"id": "ner/recipe/seed-1", "task": "ner", "variant": "recipe", "seed": 1, "component": "ner",
           "overrides": {"training.max_epochs": 1, "corpora.train.limit": 500}, "epochs": 1, "test_score": 0.25,
           "words_per_second": 400.0}  # fmt: skip
    (folder / "trials.jsonl").write_text(json.dumps(row) + "\n", encoding="utf8")
    (folder / NOTES_FILE).write_text("On a made-up GPU.\n", encoding="utf8")
    return folder


if __name__ == "__main__":
    raise SystemExit(main())
