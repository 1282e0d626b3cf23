"""recipe-sweep's spec: every bad key named in one line, nothing written; trials and their ids; the statistics of
the report checked against scipy; the report rendered from recorded rows."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import srsly
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from recipe_cli.cli.sweep import app as sweep_app
from recipe_cli.config.build import LITERAL_RECIPE_FILE, build_config, configs_dir
from recipe_cli.errors import RecipeError
from recipe_cli.output.lock import locked
from recipe_cli.sweep import report as report_module
from recipe_cli.sweep import trial as trial_module
from recipe_cli.sweep.ablate import (
    ELEMENTS_OFF,
    PACKAGED,
    RECIPE,
    SPACY_DEFAULT,
    ablation_spec,
    packaged_overrides,
    spacy_default_config,
)
from recipe_cli.sweep.report import build_report, markdown, write_report
from recipe_cli.sweep.run import RESULTS_FILE, SWEEP_FILE, prepare, read_results, replace_row, run_sweep
from recipe_cli.sweep.spec import load_spec, parse_spec
from recipe_cli.sweep.stats import BETTER, UNCLEAR, WORSE, Comparison, decide, holm, paired, summarise
from recipe_cli.sweep.trial import begin_attempt, commands, end_attempt, result_row

DATA = Path(__file__).parent / "data"
TRAIN, DEV = str(DATA / "goemotions-train.json"), str(DATA / "goemotions-dev.json")


def spec_dict(**changes):
    spec = {
        "tasks": {"emo": {"component": "textcat", "train": TRAIN, "dev": DEV, "test": DEV}},
        "seeds": 2,
        "common": {"training.max_epochs": 2},
        "variants": {"recipe": {}, "no-averaging": {"training.optimizer.use_averages": False}},
    }
    spec.update(changes)
    return spec


def test_trials_ids_and_overrides(tmp_path):
    spec = parse_spec(spec_dict(), tmp_path / "s.yml")
    trials = spec.trials()
    assert [t.id for t in trials] == [
        "emo/recipe/seed-1", "emo/recipe/seed-2", "emo/no-averaging/seed-1", "emo/no-averaging/seed-2"
    ]  # fmt: skip
    assert trials[2].overrides == {"training.max_epochs": 2, "training.optimizer.use_averages": False}
    assert trials[0].folder(tmp_path) == tmp_path / "trials" / "emo" / "recipe" / "seed-1"
    assert spec.baseline == "recipe" and spec.metric == "score" and (spec.cpus, spec.gpus) == (1, 0)


def test_trial_ids_and_fingerprints_stable_across_runs_and_order(tmp_path):
    one = parse_spec(spec_dict(), tmp_path / "s.yml").trials()
    reordered = spec_dict(variants={"no-averaging": {"training.optimizer.use_averages": False}, "recipe": {}})
    two = parse_spec(reordered, tmp_path / "s.yml").trials()
    assert {t.id: t.fingerprint for t in one} == {t.id: t.fingerprint for t in two}
    changed = parse_spec(spec_dict(common={"training.max_epochs": 3}), tmp_path / "s.yml").trials()
    assert all(a.fingerprint != b.fingerprint for a, b in zip(one, changed, strict=True))
    # The fingerprint is a hash of the settings, not of the process: a second interpreter computes the same.
    code = (
        "import sys, json; from pathlib import Path; from recipe_cli.sweep.spec import parse_spec; "
        "s = parse_spec(json.loads(sys.argv[1]), Path(sys.argv[2])); print(s.trials()[0].fingerprint)"
    )
    out = subprocess.run([sys.executable, "-c", code, srsly.json_dumps(spec_dict()), str(tmp_path / "s.yml")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == one[0].fingerprint


def test_a_variant_with_its_own_seeds(tmp_path):
    variants = {"recipe": {}, "no-l2": {"training.optimizer.L2": 0.0, "seeds": [2]}}
    spec = parse_spec(spec_dict(seeds=3, variants=variants), tmp_path / "s.yml")
    assert [t.id for t in spec.trials()] == [
        "emo/recipe/seed-1",
        "emo/recipe/seed-2",
        "emo/recipe/seed-3",
        "emo/no-l2/seed-2",
    ]
    assert spec.trials()[-1].overrides == {"training.max_epochs": 2, "training.optimizer.L2": 0.0}
    with pytest.raises(RecipeError, match=r"variants.no-l2.seeds: needs at least one seed, none twice"):
        parse_spec(spec_dict(variants={"no-l2": {"seeds": [1, 1]}}), tmp_path / "s.yml")


def test_a_variant_on_some_tasks_only(tmp_path):
    tasks = {
        "emo": {"component": "textcat", "train": TRAIN, "dev": DEV, "test": DEV},
        "emo2": {"component": "textcat", "train": TRAIN, "dev": DEV, "test": DEV},
    }
    variants = {"recipe": {}, "drop": {"training.dropout": 0.2, "tasks": ["emo2"], "seeds": [1]}}
    spec = parse_spec(spec_dict(tasks=tasks, variants=variants), tmp_path / "s.yml")
    assert [t.id for t in spec.trials()] == [
        "emo/recipe/seed-1", "emo/recipe/seed-2", "emo2/recipe/seed-1", "emo2/recipe/seed-2", "emo2/drop/seed-1"
    ]  # fmt: skip
    assert spec.trials()[-1].overrides == {"training.max_epochs": 2, "training.dropout": 0.2}
    # One name for a list of one; a name the spec has no task for is refused, naming the key and the tasks.
    one = parse_spec(spec_dict(tasks=tasks, variants={"recipe": {"tasks": "emo"}}), tmp_path / "s.yml")
    assert [t.id for t in one.trials()] == ["emo/recipe/seed-1", "emo/recipe/seed-2"]
    with pytest.raises(RecipeError, match=r"variants.drop.tasks: no task 'emo3' \(tasks: emo, emo2\)"):
        parse_spec(spec_dict(tasks=tasks, variants={"drop": {"tasks": ["emo3"]}}), tmp_path / "s.yml")
    with pytest.raises(RecipeError, match=r"variants.drop.tasks: a list of the spec's task names"):
        parse_spec(spec_dict(tasks=tasks, variants={"drop": {"tasks": []}}), tmp_path / "s.yml")


def test_a_variant_given_as_a_config_file(tmp_path):
    (tmp_path / "spacy.cfg").write_text("[training]\ndropout = 0.1\n")
    spec = parse_spec(spec_dict(variants={"recipe": {}, "spacy": "spacy.cfg"}), tmp_path / "s.yml")
    assert spec.variants["spacy"] == {"config": str((tmp_path / "spacy.cfg").resolve())}
    trial = next(t for t in spec.trials() if t.variant == "spacy")
    assert trial.config == str((tmp_path / "spacy.cfg").resolve()) and trial.overrides == {"training.max_epochs": 2}


def test_paths_resolved_against_the_spec_folder(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.json").write_text(open(TRAIN).read())
    spec = spec_dict(tasks={"emo": {"component": "textcat", "train": "data/train.json", "test": ["data/train.json"]}})
    srsly.write_yaml(tmp_path / "spec.yml", spec)
    task = load_spec(tmp_path / "spec.yml").tasks[0]
    assert task.train == [str((tmp_path / "data" / "train.json").resolve())] == task.test
    assert task.dev == []


def test_seeds_as_a_list_and_grid_crossed_with_variants(tmp_path):
    spec = parse_spec(spec_dict(seeds=[7, 3], grid={"training.optimizer.learn_rate": [0.001, 0.002]}), tmp_path / "s")
    names = list(spec.variants)
    assert names == ["recipe+learn_rate=0.001", "recipe+learn_rate=0.002",
                     "no-averaging+learn_rate=0.001", "no-averaging+learn_rate=0.002"]  # fmt: skip
    assert spec.variants["no-averaging+learn_rate=0.002"] == {
        "training.optimizer.use_averages": False, "training.optimizer.learn_rate": 0.002
    }  # fmt: skip
    assert [t.seed for t in spec.trials()][:2] == [7, 3]
    # With the default variant alone, a grid point is the variant's whole name; the first is the baseline.
    alone = parse_spec(spec_dict(variants={"recipe": {}}, grid={"training.dropout": [0.1, 0.2]}), tmp_path / "s")
    assert list(alone.variants) == ["dropout=0.1", "dropout=0.2"] and alone.baseline == "dropout=0.1"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"tasks": {}}, "tasks: Dictionary should have at least 1 item after validation, not 0"),
        ({"tasks": {"emo": {"component": "nerr", "train": TRAIN, "test": DEV}}},
         "tasks.emo.component: 'nerr' is not one of ner, tagger, parser, morphologizer, senter, textcat, textcat_multilabel"),
        ({"tasks": {"emo": {"component": "ner", "test": DEV}}}, "tasks.emo.train: Field required"),
        ({"tasks": {"emo": {"component": "ner", "train": TRAIN}}}, "tasks.emo.test: Field required"),
        ({"tasks": {"emo": {"component": "ner", "train": "nope.json", "test": DEV}}}, "tasks.emo.train: no such file: "),
        ({"tasks": {"emo": {"component": "ner", "train": TRAIN, "test": DEV, "epochs": 3}}},
         "tasks.emo.epochs: Extra inputs are not permitted"),
        ({"tasks": {"e/mo": {"component": "ner", "train": TRAIN, "test": DEV}}},
         "tasks.e/mo: a name may hold letters, digits and . _ - = + , only"),
        ({"seeds": "three"}, "seeds.list[int]: Input should be a valid list"),
        ({"seeds": [1, 1]}, "seeds: needs at least one seed, none twice"),
        ({"seeds": 0}, "seeds: needs at least one seed, none twice"),
        ({"variants": {"recipe": {"max_epochs": 3}}}, "variants.recipe.max_epochs: not a dotted config path (section.key)"),
        ({"variants": {"recipe": {"config": "missing.cfg"}}}, "variants.recipe.config: no such file: "),
        ({"common": {"epochs": 3}}, "common.epochs: not a dotted config path (section.key)"),
        ({"grid": {"training.dropout": []}}, "grid.training.dropout: needs a dotted config path and at least one value"),
        ({"baseline": "spacy"}, "baseline: no variant 'spacy' (variants: recipe, no-averaging)"),
        ({"resources": {"gpus": 2}}, "resources.gpus: Input should be less than or equal to 1"),
        ({"resources": {"cpu": 2}}, "resources.cpu: Extra inputs are not permitted"),
        ({"metrics": "ents_f"}, "metrics: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_spec_is_one_line_naming_the_key(tmp_path, changes, message):
    with pytest.raises(RecipeError) as info:
        parse_spec(spec_dict(**changes), tmp_path / "spec.yml")
    assert str(info.value).startswith(f"[E081] {tmp_path / 'spec.yml'}: {message}")
    assert "\n" not in str(info.value)


def test_bad_spec_file_through_the_command_writes_nothing(tmp_path):
    (tmp_path / "spec.yml").write_text("tasks: [unclosed\n")
    out = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "recipe_cli", "sweep", "run", str(tmp_path / "spec.yml"), "-o",
                             str(out)], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1].startswith(f"error: [E081] {tmp_path / 'spec.yml'}: (file): not valid")
    )
    assert "Traceback" not in result.stderr and not out.exists()
    missing = subprocess.run([sys.executable, "-m", "recipe_cli", "sweep", "run", str(tmp_path / "no.yml"), "-o",
                              str(out)], capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 1 and f"[E080] Sweep spec not found: {tmp_path / 'no.yml'}" in missing.stderr


def test_dry_run_lists_trials_and_writes_nothing(tmp_path):
    srsly.write_yaml(tmp_path / "spec.yml", spec_dict())
    out = tmp_path / "sweep"
    result = subprocess.run([sys.executable, "-m", "recipe_cli", "sweep", "run", str(tmp_path / "spec.yml"), "-o",
                             str(out), "--dry-run"], capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.splitlines()[:4] == [
        "emo/recipe/seed-1  to run", "emo/recipe/seed-2  to run",
        "emo/no-averaging/seed-1  to run", "emo/no-averaging/seed-2  to run",
    ]  # fmt: skip
    assert not out.exists()


def test_commands_of_a_fresh_and_an_interrupted_trial(tmp_path):
    spec = parse_spec(spec_dict(tasks={"emo": {"component": "textcat", "train": TRAIN, "test": DEV, "format": "json",
                                               "lang": "de"}}), tmp_path / "s")  # fmt: skip
    trial = spec.trials()[2]
    (train_step, train), (eval_step, evaluate) = commands(trial, tmp_path / "sweep", python="py")
    out = str(trial.folder(tmp_path / "sweep"))
    assert (train_step, eval_step) == ("train", "eval")
    assert train == ["py", "-m", "recipe_cli", "train", "textcat", TRAIN, "-o", out, "--overwrite", "--seed", "1",
                     "--format", "json", "--lang", "de", "--training.max_epochs=2",
                     "--training.optimizer.use_averages=false"]  # fmt: skip
    assert evaluate == ["py", "-m", "recipe_cli", "eval", f"{out}/model-best", DEV, "--json", "-o",
                        f"{out}/test-scores.json", "--format", "json"]  # fmt: skip
    trial.folder(tmp_path / "sweep").mkdir(parents=True)
    (trial.folder(tmp_path / "sweep") / "run.json").write_text("{}")
    (_, resumed), _ = commands(trial, tmp_path / "sweep", gpu_id=1, python="py")
    assert resumed == ["py", "-m", "recipe_cli", "train", "--resume", out, "--gpu-id", "1"]


def test_a_changed_spec_is_refused_before_anything_runs(tmp_path):
    sweep = tmp_path / "sweep"
    spec = parse_spec(spec_dict(), tmp_path / "s")
    trial = spec.trials()[0]
    sweep.mkdir()
    srsly.write_jsonl(sweep / RESULTS_FILE, [{"id": trial.id, "fingerprint": "0123"}])
    with pytest.raises(RecipeError, match=r"^\[E083\] Trial emo/recipe/seed-1 was run with other settings"):
        prepare(spec, sweep)
    (sweep / RESULTS_FILE).write_text(srsly.json_dumps({"id": trial.id, "fingerprint": trial.fingerprint}) + "\n")
    todo, done = prepare(spec, sweep)
    assert done == 1 and [t.id for t in todo] == [t.id for t in spec.trials()[1:]]


def ran_before(sweep: Path, trial, config: str, **overrides) -> None:
    """What a finished run of trial with other overrides leaves: its row and its folder (run.json, trial.json)."""
    earlier = replace(trial, overrides={**trial.overrides, **overrides})
    folder = trial.folder(sweep)
    folder.mkdir(parents=True)
    srsly.write_json(folder / "run.json", {"config": config})
    srsly.write_json(folder / "trial.json", {"id": trial.id, "fingerprint": earlier.fingerprint,
                                             "overrides": earlier.overrides})  # fmt: skip
    row = {"id": trial.id, "fingerprint": earlier.fingerprint, "overrides": earlier.overrides, "test_score": 0.5}
    with (sweep / RESULTS_FILE).open("a") as rows:
        rows.write(srsly.json_dumps(row) + "\n")


PLANNED = '[training]\nmax_epochs = 1\n\n[training.dropout]\n@schedules = "recipe.linear_decay_share.v1"\ntotal_steps = "auto"\n'


def test_a_spec_that_only_lengthens_trials_continues_them(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    spec = parse_spec(spec_dict(common={"training.max_epochs": 6, "training.patience": 3}), tmp_path / "s")
    first, second, third, fourth = spec.trials()
    ran_before(sweep, first, "[training]\nmax_epochs = 2\n", **{"training.max_epochs": 2})
    ran_before(sweep, second, "[training]\nmax_epochs = 2\n", **{"training.max_epochs": 2, "training.patience": 1})
    (sweep / RESULTS_FILE).open("a").write(srsly.json_dumps({"id": third.id, "fingerprint": third.fingerprint}) + "\n")
    todo, done = prepare(spec, sweep)
    assert done == 1 and [(t.id, t.extend) for t in todo] == [
        (first.id, {"training.max_epochs": 6}),
        (second.id, {"training.max_epochs": 6, "training.patience": 3}),
        (fourth.id, {}),
    ]  # fmt: skip
    # A dry run says so, and writes nothing.
    rows = (sweep / RESULTS_FILE).read_text()
    srsly.write_yaml(tmp_path / "spec.yml", spec_dict(common={"training.max_epochs": 6, "training.patience": 3}))
    result = CliRunner().invoke(sweep_app, ["run", str(tmp_path / "spec.yml"), "-o", str(sweep), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:4] == [
        f"{first.id}  to extend: training.max_epochs = 6",
        f"{second.id}  to extend: training.max_epochs = 6, training.patience = 3",
        f"{third.id}  finished",
        f"{fourth.id}  to run",
    ]  # fmt: skip
    assert (sweep / RESULTS_FILE).read_text() == rows
    # Each continues its run with the settings that lengthen it; the others start or resume as before.
    (_, resumed), _ = commands(todo[0], sweep, python="py")
    assert resumed == ["py", "-m", "recipe_cli", "train", "--resume", str(first.folder(sweep)),
                       "--training.max_epochs=6"]  # fmt: skip
    assert commands(todo[2], sweep, python="py")[0][1][4] == "textcat"
    # The longer run's row takes the shorter one's place; every other line stays as it was written.
    before = (sweep / RESULTS_FILE).read_text().splitlines()
    longer = {"id": second.id, "fingerprint": second.fingerprint, "test_score": 0.7}
    replace_row(sweep / RESULTS_FILE, longer)
    assert (sweep / RESULTS_FILE).read_text().splitlines() == [before[0], srsly.json_dumps(longer), before[2]]


@pytest.mark.parametrize(
    "before",
    [
        {"training.max_epochs": 8},  # shorter now
        {"training.max_epochs": 2, "training.optimizer.L2": 0.0},  # something else changed too
        {"training.max_epochs": 2, "training.patience": 0},  # patience 0 was no limit: 3 is shorter
    ],
)
def test_a_spec_that_shortens_or_changes_more_is_refused(tmp_path, before):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    spec = parse_spec(spec_dict(common={"training.max_epochs": 6, "training.patience": 3}), tmp_path / "s")
    trial = spec.trials()[0]
    ran_before(sweep, trial, "[training]\nmax_epochs = 2\n", **before)
    rows = (sweep / RESULTS_FILE).read_text()
    with pytest.raises(RecipeError, match=r"^\[E083\] Trial emo/recipe/seed-1 was run with other settings"):
        prepare(spec, sweep)
    assert (sweep / RESULTS_FILE).read_text() == rows


def test_a_run_whose_dropout_was_planned_over_its_length_is_not_extended(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    spec = parse_spec(spec_dict(common={"training.max_epochs": 6}), tmp_path / "s")
    trial = spec.trials()[0]
    ran_before(sweep, trial, PLANNED, **{"training.max_epochs": 1})
    with pytest.raises(RecipeError, match=r"^\[E098\] Trial emo/recipe/seed-1 ran shorter .* planned over"):
        prepare(spec, sweep)


def test_a_second_driver_on_the_same_sweep_is_refused(tmp_path):
    import fcntl
    import os

    spec = parse_spec(spec_dict(), tmp_path / "s")
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    with (sweep / ".lock").open("w") as held:  # what a running driver holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        with pytest.raises(RecipeError) as info:
            run_sweep(spec, sweep, jobs=1)
    assert (
        str(info.value)
        == f"[E092] Another recipe-sweep (pid 4242) is running on {sweep}: wait for it, or stop it first."
    )
    assert not (sweep / RESULTS_FILE).exists() and not (sweep / "trials").exists()
    # Once it is gone the lock is free: a driver takes it and writes its own pid.
    with locked(sweep, lambda pid: f"busy {pid}"):
        assert (sweep / ".lock").read_text() == str(os.getpid())


def test_a_cut_last_line_of_trials_jsonl_is_left_out(tmp_path):
    (tmp_path / RESULTS_FILE).write_text('{"id": "a/b/seed-1"}\n{"id": "a/b/se')
    assert read_results(tmp_path) == [{"id": "a/b/seed-1"}]


# The statistics, checked against scipy.


def test_summary_is_mean_and_sample_sd():
    s = summarise([0.5, 0.7, 0.6])
    assert s.n == 3 and s.mean == pytest.approx(0.6) and s.sd == pytest.approx(scipy_stats.tstd([0.5, 0.7, 0.6]))
    assert summarise([0.4]).sd is None


def test_paired_interval_and_p_equal_scipy():
    variant = {1: 0.62, 2: 0.60, 3: 0.65, 4: 0.61, 5: 0.63}
    baseline = {1: 0.60, 2: 0.59, 3: 0.61, 4: 0.61, 5: 0.60, 6: 0.99}  # seed 6 has no pair: left out
    c = paired(variant, baseline)
    seeds = [1, 2, 3, 4, 5]
    ref = scipy_stats.ttest_rel([variant[s] for s in seeds], [baseline[s] for s in seeds])
    ci = ref.confidence_interval(0.95)
    assert c.n == 5 and c.mean == pytest.approx(0.02)
    assert (c.low, c.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert c.p == pytest.approx(ref.pvalue)


def test_holm_matches_its_definition():
    # Four p-values: sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → monotone: 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.6]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == []


def comparison(diffs, p):
    return Comparison(len(diffs), diffs, sum(diffs) / len(diffs), None, None, p, None, UNCLEAR)


def test_verdicts_follow_the_rule():
    better, worse, mixed, weak = comparison([0.02, 0.01, 0.03], 0.001), comparison([-0.02, -0.01, -0.03], 0.002), \
        comparison([0.05, -0.001, 0.04], 0.001), comparison([0.01, 0.02, 0.01], 0.03)  # fmt: skip
    decide([better, worse, mixed, weak])
    # weak: p = 0.03 alone would pass; Holm multiplies the largest of four p-values' rank: 0.03 × 1 → but its
    # place among the four (sorted 0.001, 0.001, 0.002, 0.03) gives 0.03 × 1 = 0.03 < 0.05: still better.
    assert [c.verdict for c in (better, worse, mixed, weak)] == [BETTER, WORSE, UNCLEAR, BETTER]
    corrected = [comparison([0.01, 0.02, 0.01], 0.03), comparison([0.01, 0.02, 0.01], 0.03)]
    decide(corrected)  # 0.03 × 2 = 0.06 ≥ 0.05 for the smaller one: neither is better after correction
    assert [c.verdict for c in corrected] == [UNCLEAR, UNCLEAR] and corrected[0].p_holm == pytest.approx(0.06)
    single = comparison([0.5], None)
    decide([single])
    assert single.verdict == UNCLEAR


def test_paired_with_one_seed_or_no_spread():
    assert paired({1: 0.7}, {1: 0.6}).low is None
    same = paired({1: 0.7, 2: 0.8}, {1: 0.6, 2: 0.7})
    decide([same])
    assert same.p == 0.0 and same.verdict == BETTER and same.low == pytest.approx(0.1)
    tie = paired({1: 0.7, 2: 0.8}, {1: 0.7, 2: 0.8})
    decide([tie])
    assert tie.verdict == UNCLEAR and tie.mean == 0


# The report, from recorded rows.


def recorded_sweep(tmp_path, scores):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows = []
    for variant, values in scores.items():
        for seed, value in enumerate(values, start=1):
            rows.append({"id": f"emo/{variant}/seed-{seed}", "task": "emo", "variant": variant, "seed": seed,
                         "metric": "score", "test_score": value, "best_dev": value + 0.01, "best_epoch": seed,
                         "seconds_to_best": 10.0 * seed, "words_per_second": 1000.0 * seed})  # fmt: skip
    srsly.write_jsonl(sweep / RESULTS_FILE, rows)
    trials = [row["id"] for row in rows] + ["emo/recipe/seed-9"]
    srsly.write_json(sweep / SWEEP_FILE, {"metric": "score", "baseline": "recipe", "tasks": {"emo": "textcat"},
                                          "variants": {v: {} for v in scores}, "trials": trials})  # fmt: skip
    return sweep


def test_report_numbers_and_markdown(tmp_path):
    scores = {"recipe": [0.60, 0.61, 0.62, 0.60], "fast": [0.64, 0.65, 0.65, 0.645], "bad": [0.5, 0.62, 0.55, 0.61]}
    sweep = recorded_sweep(tmp_path, scores)
    report = build_report(sweep)
    emo = report["tasks"]["emo"]
    fast = emo["variants"]["fast"]
    assert fast["mean"] == pytest.approx(sum(scores["fast"]) / 4)
    assert fast["sd"] == pytest.approx(scipy_stats.tstd(scores["fast"]))
    assert fast["values"] == {"1": 0.64, "2": 0.65, "3": 0.65, "4": 0.645}
    assert emo["variants"]["recipe"]["seconds_to_best_mean"] == pytest.approx(25.0)
    diffs = [a - b for a, b in zip(scores["fast"], scores["recipe"], strict=True)]
    assert emo["comparisons"]["fast"]["mean"] == pytest.approx(sum(diffs) / 4)
    p_fast = scipy_stats.ttest_rel(scores["fast"], scores["recipe"]).pvalue
    p_bad = scipy_stats.ttest_rel(scores["bad"], scores["recipe"]).pvalue
    assert emo["comparisons"]["fast"]["p_holm"] == pytest.approx(2 * p_fast)  # the smaller of two p-values, × 2
    assert emo["comparisons"]["bad"]["p_holm"] == pytest.approx(max(2 * p_fast, p_bad))
    assert emo["comparisons"]["fast"]["verdict"] == BETTER
    assert emo["comparisons"]["bad"]["verdict"] == UNCLEAR
    assert "recipe" not in emo["comparisons"]
    assert report["unfinished"] == ["emo/recipe/seed-9"]
    text = markdown(report)
    assert (
        f"| fast | {fast['mean']:.4f} ± {fast['sd']:.4f} | 4 | 0.6400, 0.6500, 0.6500, 0.6450 | {emo['comparisons']['fast']['mean']:+.4f} ["
        in text
    )
    assert "| better |" in text and "| recipe | 0.6075 ± 0.0096 | 4 |" in text and "(baseline)" in text
    assert "Not finished yet (1): emo/recipe/seed-9" in text
    # Another baseline on request.
    other = build_report(sweep, baseline="fast")
    assert other["tasks"]["emo"]["comparisons"]["recipe"]["verdict"] == WORSE


def test_time_to_quality_of_a_variant(tmp_path):
    sweep = recorded_sweep(tmp_path, {"recipe": [0.60, 0.61], "spacy": [0.59, 0.58]})
    rows = list(srsly.read_jsonl(sweep / RESULTS_FILE))
    curves = {  # [epoch, dev score, seconds so far]; spacy's best dev scores: 0.60 and 0.59 (mean 0.595)
        "emo/recipe/seed-1": [[1, 0.55, 10.0], [2, 0.596, 21.0], [3, 0.61, 30.0]],
        "emo/recipe/seed-2": [[1, 0.50, 10.0], [2, 0.58, 20.0]],
        "emo/spacy/seed-1": [[1, 0.595, 12.0], [2, 0.60, 24.0]],
        "emo/spacy/seed-2": [[1, 0.59, 8.0]],
    }
    for row in rows:
        row["curve"] = curves[row["id"]]
    rows[2]["best_dev"], rows[3]["best_dev"] = 0.60, 0.59
    srsly.write_jsonl(sweep / RESULTS_FILE, rows)
    report = build_report(sweep, quality_of="spacy")
    emo = report["tasks"]["emo"]
    assert emo["quality"] == pytest.approx(0.595)
    assert emo["variants"]["recipe"]["seconds_to_quality_mean"] == 21.0
    assert emo["variants"]["recipe"]["reached_quality"] == 1
    assert (
        emo["variants"]["spacy"]["seconds_to_quality_mean"] == 12.0 and emo["variants"]["spacy"]["reached_quality"] == 1
    )
    text = markdown(report)
    assert "Quality: dev 0.5950 (spacy's mean best)" in text
    assert "| 21 (1/2) |" in text and "| s to quality |" in text
    assert "s to quality" not in markdown(build_report(sweep))
    with pytest.raises(RecipeError, match=r"quality_of: no variant 'nope'"):
        build_report(sweep, quality_of="nope")


def test_report_files_written(tmp_path):
    sweep = recorded_sweep(tmp_path, {"recipe": [0.60, 0.61], "fast": [0.63, 0.65]})
    text = write_report(sweep, build_report(sweep))
    assert (sweep / report_module.RESULTS_MD).read_text() == text
    assert srsly.read_json(sweep / report_module.RESULTS_JSON)["tasks"]["emo"]["variants"]["fast"]["n"] == 2
    assert (sweep / report_module.RESULTS_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_of_an_empty_sweep_is_one_line(tmp_path):
    with pytest.raises(RecipeError, match=r"^\[E088\] No finished trials in"):
        build_report(tmp_path)


def test_result_row_from_a_trial_folder(tmp_path):
    spec = parse_spec(spec_dict(metric="cats_macro_f"), tmp_path / "s")
    trial = spec.trials()[0]
    out = trial.folder(tmp_path)
    out.mkdir(parents=True)
    rows = [
        {"epoch": 1, "score": 0.5, "best": True, "seconds": 3.0, "train_seconds": 2.0, "words": 100,
         "step": 40, "dropout": 0.596, "batch_size": 1},
        {"epoch": 2, "score": 0.7, "best": True, "seconds": 4.0, "train_seconds": 3.0, "words": 200,
         "step": 75, "dropout": 0.5925, "batch_size": 1},
        {"epoch": 3, "score": 0.6, "best": False, "seconds": 5.0, "train_seconds": 3.0, "words": 300,
         "step": 109, "dropout": 0.5891, "batch_size": 2},
    ]  # fmt: skip
    srsly.write_jsonl(out / "metrics.jsonl", rows)
    srsly.write_json(out / "test-scores.json", {"score": 0.4, "scores": {"cats_macro_f": 0.35}})
    row = result_row(trial, tmp_path, wall_seconds=12.5)
    assert (row["best_epoch"], row["best_dev"], row["epochs"]) == (2, pytest.approx(0.7), 3)
    assert row["seconds_to_best"] == 7.0 and row["train_seconds"] == 8.0
    assert row["words_per_second"] == pytest.approx(300 / 8.0)
    assert row["curve"] == [[1, 0.5, 3.0], [2, pytest.approx(0.7), 7.0], [3, pytest.approx(0.6), 12.0]]
    assert row["schedule"] == [pytest.approx(r) for r in ([1, 40, 0.596, 1], [2, 75, 0.5925, 1], [3, 109, 0.5891, 2])]
    assert row["test_score"] == pytest.approx(0.35) and row["wall_seconds"] == 12.5
    assert row["test"] == srsly.read_json(out / "test-scores.json")
    srsly.write_json(out / "test-scores.json", {"score": 0.4, "scores": {"cats_micro_f": 0.3, "speed": 9}})
    with pytest.raises(RecipeError, match=r"^\[E085\] No score 'cats_macro_f' .*: cats_micro_f, speed\)"):
        result_row(trial, tmp_path, wall_seconds=1.0)


# The ablation spec.


def test_ablation_spec_variants_and_spacy_settings(tmp_path):
    path = ablation_spec(component="textcat", train=[TRAIN], dev=[DEV], test=[DEV], out=tmp_path, seeds=3,
                         common={"training.max_epochs": 4})  # fmt: skip
    spec = load_spec(path)
    assert list(spec.variants) == [RECIPE, *ELEMENTS_OFF, PACKAGED, SPACY_DEFAULT]
    assert RECIPE == "recipe-literal" and PACKAGED == "packaged-default"
    assert spec.seeds == [1, 2, 3] and spec.baseline == RECIPE
    assert spec.variants["constant-batch"] == {"training.batcher.size.start": "auto"}
    spacy_cfg = spec.variants[SPACY_DEFAULT]["config"]
    assert spacy_cfg == str((tmp_path / "spacy-default.cfg").resolve())
    trial = next(t for t in spec.trials() if t.variant == SPACY_DEFAULT)
    assert trial.config == spacy_cfg and trial.overrides == {"training.max_epochs": 4}
    # Every other variant turns its element off from RECIPE.md's letter (the literal recipe), not from the
    # packaged defaults (whose dropout is already the constant-dropout variant's).
    literal = str(configs_dir() / LITERAL_RECIPE_FILE)
    assert {t.config for t in spec.trials() if t.variant != SPACY_DEFAULT} == {literal}


@pytest.mark.parametrize("component", ["ner", "tagger,parser", "textcat_multilabel"])
def test_the_packaged_default_row_trains_with_the_packaged_defaults(component):
    """The packaged-default row's overrides on the literal recipe give the [training] recipe-train COMPONENT DATA
    trains with (its departures from the letter: constant dropout, the sparse optimizer)."""
    overrides = packaged_overrides(component)
    assert overrides, "the packaged defaults depart from the letter"
    literal = configs_dir() / LITERAL_RECIPE_FILE
    components = component.split(",")
    row = build_config(components, config_path=literal, overrides=overrides)
    assert row.config["training"] == build_config(components).config["training"]
    assert row.departures == []
    # Without them, the literal recipe is not the packaged default.
    assert build_config(components, config_path=literal).config["training"] != row.config["training"]


def test_ablate_command_writes_its_spec_and_lists_the_trials(tmp_path):
    out = tmp_path / "ablation"
    cmd = [sys.executable, "-m", "recipe_cli", "sweep", "ablate", "textcat", TRAIN, "--dev", DEV, "--test", DEV,
           "-o", str(out), "--seeds", "2", "--dry-run", "--training.max_epochs", "3"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    spec = load_spec(out / "ablation.yml")
    assert spec.raw["common"] == {"training.max_epochs": 3} and spec.seeds == [1, 2]
    lines = [line for line in result.stdout.splitlines() if line.endswith("  to run")]
    assert len(lines) == 2 * 8 and lines[0] == "goemotions-train/recipe-literal/seed-1  to run"
    assert lines[-1] == "goemotions-train/spacy-default/seed-2  to run"
    assert not (out / "trials").exists() and not (out / "trials.jsonl").exists()
    # The dry run says what it wrote: the spec and spaCy's settings, nothing else.
    assert sorted(p.name for p in out.iterdir()) == ["ablation.yml", "spacy-default.cfg"]
    said = " ".join(result.stdout.split())
    assert f"wrote {out / 'ablation.yml'} and {out / 'spacy-default.cfg'}, trained nothing" in said
    # The task is named by the user where they want.
    named = subprocess.run([*cmd, "--name", "emotions"], capture_output=True, text=True, timeout=300)
    assert named.returncode == 0, named.stderr
    assert "emotions/recipe-literal/seed-1  to run" in named.stdout.splitlines()
    assert [task.name for task in load_spec(out / "ablation.yml").tasks] == ["emotions"]


def test_packaged_default_row_refuses_blocks_of_another_shape(monkeypatch):
    """A packaged [training] block that no override of a value turns into the literal one (a float dropout against
    the literal's schedule block) is one coded line, not a wrong row."""
    from recipe_cli.sweep import ablate

    packaged = ablate.recipe_config(["ner"])
    packaged["training"]["dropout"] = 0.2
    monkeypatch.setattr(ablate, "recipe_config", lambda components: packaged)
    with pytest.raises(RecipeError, match=r"^\[E097\] training\.dropout: the packaged config's block"):
        packaged_overrides("ner")


def test_ablate_refuses_a_task_name_that_is_no_folder_name(tmp_path):
    out = tmp_path / "ablation"
    cmd = [sys.executable, "-m", "recipe_cli", "sweep", "ablate", "textcat", TRAIN, "--dev", DEV, "--test", DEV,
           "-o", str(out), "--dry-run", "--name", "my/task"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: [E096] --name 'my/task': a task's name may hold letters, digits and . _ - = + , only (it names a folder)."
    ]
    assert not out.exists()


def test_a_trials_wall_seconds_count_every_attempt(tmp_path, monkeypatch):
    """An attempt whose driver was killed ended when its logs were last written; the resumed attempt's row counts
    both."""
    spec = parse_spec(spec_dict(), tmp_path / "s")
    trial = spec.trials()[0]
    out = trial.folder(tmp_path)
    out.mkdir(parents=True)
    srsly.write_json(out / "attempts.json", [[1000.0, 1010.0], [2000.0, None]])
    (out / "train.log").write_text("epoch 1\n")
    os.utime(out / "train.log", (2030.0, 2030.0))
    clock = iter([3000.0, 3050.0])
    monkeypatch.setattr(trial_module.time, "time", lambda: next(clock))
    attempts = begin_attempt(trial, tmp_path)
    assert srsly.read_json(out / "attempts.json") == [[1000.0, 1010.0], [2000.0, 2030.0], [3000.0, None]]
    assert end_attempt(trial, tmp_path, attempts) == 10.0 + 30.0 + 50.0
    assert srsly.read_json(out / "attempts.json")[-1] == [3000.0, 3050.0]


def test_spacy_default_settings_are_spacys_own():
    training = spacy_default_config("ner")["training"]
    assert training["batcher"]["@batchers"] == "spacy.batch_by_words.v1"
    assert training["batcher"]["size"]["start"] == 100 and training["batcher"]["size"]["stop"] == 1000
    assert training["dropout"] == 0.1
    assert training["optimizer"]["use_averages"] is False
    # For CPU pipelines spaCy generates a constant learning rate (its warm-up schedule is the transformer config's).
    assert training["optimizer"]["learn_rate"] == 0.001 and training["optimizer"]["L2"] == 0.01
    assert set(training) == {"batcher", "dropout", "optimizer", "accumulate_gradient"}


def test_a_changed_config_file_or_packaged_default_is_another_trial(tmp_path, monkeypatch):
    """The fingerprint holds what the trial's config file and the packaged defaults it starts from say, not only
    the file's name: a finished trial run before a default changed is refused, not counted as this spec's."""
    import shutil

    from recipe_cli.config import build

    variant = tmp_path / "v.cfg"
    variant.write_text("[training]\ndropout = 0.1\n")
    spec = spec_dict(variants={"recipe": {}, "mine": "v.cfg"})
    before = {t.id: t.fingerprint for t in parse_spec(spec, tmp_path / "s.yml").trials()}
    variant.write_text("[training]\ndropout = 0.3\n")
    after = {t.id: t.fingerprint for t in parse_spec(spec, tmp_path / "s.yml").trials()}
    assert {i for i in before if before[i] != after[i]} == {"emo/mine/seed-1", "emo/mine/seed-2"}
    # The packaged textcat config with another dropout: every trial is another one.
    configs = tmp_path / "configs"
    shutil.copytree(build.configs_dir(), configs)
    monkeypatch.setattr(build, "configs_dir", lambda: configs)
    assert {t.id: t.fingerprint for t in parse_spec(spec, tmp_path / "s.yml").trials()} == after
    text = (configs / "textcat.cfg").read_text().replace("start = 0.2\nstop = 0.2", "start = 0.3\nstop = 0.3")
    assert text != (configs / "textcat.cfg").read_text()
    (configs / "textcat.cfg").write_text(text)
    changed = {t.id: t.fingerprint for t in parse_spec(spec, tmp_path / "s.yml").trials()}
    assert all(changed[i] != after[i] for i in after)
