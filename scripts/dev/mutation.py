"""Mutation testing of the modules that carry the recipe and the data, with mutmut, on the fast tests.

mutmut changes one small thing in the code at a time (an operator, a constant, a call's argument, a returned
value) and runs the tests that reach the changed function. A mutant the tests catch is *killed*; one they do not
is *survived*: either a test is missing or the change does nothing (an equivalent mutant). The figure this prints
is the share of mutants killed, per module and in all, over every mutant made (those no fast test reaches count as
survived).

The modules: the loop, schedules, batching, resume, transfer and rehearsal (training/); the checkpoint, the
output folder's layout and the training state (output/); every data format (data/formats/); scoring and the
per-label tables (evaluation/). The tests: every test not marked slow (the end-to-end training runs are left out: they
take minutes per mutant), in one process.

mutmut works on a copy of the code. This script builds that copy in OUT (the package, the tests, the packaged
configs, and a pyproject.toml that holds the [tool.mutmut] settings below), runs `mutmut run` there, and reads
its results. Running it again on the same OUT continues: mutmut keeps each mutant's result until the function it
changed changes (mutmut keeps a verdict when tests are added): --recheck tests the mutants not killed last time
again, against the tests as they are now.

The installed package's entry points (spaCy finds our registered functions through them) must be those of the
code being mutated: reinstall (`pip install -e .`) before a run if pyproject.toml's entry points changed.

Usage: python -m scripts.dev.mutation [--out mutation-out] [--jobs 2] [--json] [--recheck] [--only GLOB ...]
       python -m scripts.dev.mutation --show NAME      (the diff of one mutant of the last run in OUT)
       python -m scripts.dev.mutation --smoke          (schedules.py against its own tests, in a temporary folder)
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from scripts.common import REPO

MODULES = [
    "recipe_cli/training/loop.py",
    "recipe_cli/training/schedules.py",
    "recipe_cli/training/batching.py",
    "recipe_cli/training/resume.py",
    "recipe_cli/training/transfer.py",
    "recipe_cli/training/rehearsal.py",
    "recipe_cli/output/checkpoint.py",
    "recipe_cli/output/layout.py",
    "recipe_cli/output/state.py",
    "recipe_cli/data/formats/*.py",
    "recipe_cli/evaluation/scoring.py",
    "recipe_cli/evaluation/per_label.py",
]
TESTS = ["tests"]
# The fast tests, in one process, in file order (mutmut runs each mutant's tests itself, several mutants at once).
# test_layout.py reads the source itself, which mutmut rewrites (every function becomes a trampoline to its mutants);
# the trampoline is also one more frame between a warning and the code that asked for it.
# Changing them (or TESTS) makes mutmut forget every verdict and test all mutants again: hours.
PYTEST_ARGS = ["-n", "0", "-p", "no:randomly", "-p", "no:cacheprovider", "-q", "-m", "not slow",
               "--ignore=tests/test_layout.py",
               "--deselect=tests/test_scoring.py::test_check_data_warning_points_at_the_caller"]  # fmt: skip
SMOKE_MODULES = ["recipe_cli/training/schedules.py"]
SMOKE_TESTS = ["tests/test_schedules.py"]
# docs/ and README.md: tests/test_docs.py follows their links and the paths docs/architecture.md names.
COPIED = ["recipe_cli", "tests", "configs", "scripts", "docs", "README.md"]
# mutmut's words for a mutant's fate. A timeout is a kill: the mutant made the tests loop or hang.
KILLED = {"killed", "timeout", "segfault"}
# A mutant no run has reached yet (a stopped run goes on with it next time).
NOT_CHECKED = "not checked"
RESULT_LINE = re.compile(r"^\s*(\S+): (.+)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="the working copy (default: mutation-out)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants tested at once")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (also in OUT/results.json)")
    parser.add_argument("--show", metavar="NAME", default=None, help="print the diff of one mutant and stop")
    parser.add_argument("--smoke", action="store_true", help="schedules.py and its tests: checks that it runs")
    parser.add_argument("--recheck", action="store_true", help="test the mutants not killed last time again")
    parser.add_argument("--only", nargs="+", default=[], metavar="GLOB",
                        help="test only (again) the mutants whose names match, e.g. 'recipe_cli.training.loop.*'")  # fmt: skip
    args = parser.parse_args()
    if args.smoke:
        args.out = args.out or Path(tempfile.mkdtemp(prefix="mutation-smoke-"))
        modules, tests = SMOKE_MODULES, SMOKE_TESTS
    else:
        modules, tests = MODULES, TESTS
    out = (args.out or REPO / "mutation-out").resolve()
    if args.show:
        return subprocess.run([sys.executable, "-m", "mutmut", "show", args.show], cwd=out, check=False).returncode

    again = sorted(name for name, fate in read_results(out).items() if fate not in KILLED) if args.recheck else []
    prepare(out, modules, tests)
    start = time.perf_counter()
    log = out / "mutmut.log"
    with log.open("w", encoding="utf8") as stream:
        run = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)]
        code = subprocess.run(
            [*run, *args.only], cwd=out, stdout=stream, stderr=subprocess.STDOUT, check=False
        ).returncode
        # Names mutmut no longer makes (their function changed) were tested above, under their new names.
        again = [name for name in again if name in read_results(out)] if code == 0 else []
        if again:
            code = subprocess.run(
                [*run, *again], cwd=out, stdout=stream, stderr=subprocess.STDOUT, check=False
            ).returncode
    if code != 0:
        print(f"mutmut run failed (exit {code}); its output is in {log}")
        print(log.read_text(encoding="utf8", errors="replace")[-2000:])
        return 1
    fates = read_results(out)
    if not fates:
        print(f"mutmut made no mutants; its output is in {log}")
        return 1
    results = summarise(fates, seconds=time.perf_counter() - start, smoke=args.smoke)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf8")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results, out)
    return 0


def prepare(out: Path, modules: list[str], tests: list[str]) -> None:
    """Copy the code and tests into OUT, leaving mutmut's own folder (OUT/mutants) and its results in place."""
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source, target = REPO / name, out / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        else:
            shutil.copy2(source, target)
    settings = "\n".join(
        [
            "",
            "[tool.mutmut]",
            'source_paths = ["recipe_cli"]',
            'also_copy = ["configs", "scripts", "docs", "README.md"]',
            f"only_mutate = {json.dumps(modules)}",
            f"pytest_add_cli_args = {json.dumps(PYTEST_ARGS)}",
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
            "",
        ]
    )
    (out / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text(encoding="utf8") + settings, "utf8")


def read_results(out: Path) -> dict[str, str]:
    """Every mutant's fate, by name ("recipe_cli.batching.x_auto_max_batch_size__mutmut_10": "survived")."""
    if not (out / "mutants").is_dir():
        return {}
    cmd = [sys.executable, "-m", "mutmut", "results", "--all", "true"]
    listing = subprocess.run(cmd, cwd=out, capture_output=True, text=True, check=True).stdout
    fates = {}
    for line in listing.splitlines():
        match = RESULT_LINE.match(line)
        if match and "__mutmut_" in match.group(1):
            fates[match.group(1)] = match.group(2).strip()
    return fates


def module_of(mutant: str) -> str:
    """recipe_cli.formats.jsonl.x_read__mutmut_3 -> recipe_cli/formats/jsonl.py"""
    dotted = mutant.split("__mutmut_")[0].rsplit(".", 1)[0]
    if "ǁ" in dotted:  # a method: module.xǁClassǁmethod
        dotted = dotted.split("ǁ")[0].rsplit(".", 1)[0]
    path = dotted.replace(".", "/")
    # A package's own functions live in its __init__.py.
    return f"{path}/__init__.py" if (REPO / path).is_dir() else f"{path}.py"


def summarise(fates: dict[str, str], *, seconds: float, smoke: bool) -> dict:
    by_module: dict[str, Counter] = {}
    for name, fate in fates.items():
        by_module.setdefault(module_of(name), Counter())[fate] += 1
    modules = {}
    for module, counts in sorted(by_module.items()):
        total = sum(counts.values())
        killed = sum(n for fate, n in counts.items() if fate in KILLED)
        tested = total - counts.get(NOT_CHECKED, 0)
        modules[module] = {"mutants": total, "tested": tested, "killed": killed, "score": killed / total,
                           "score_of_tested": killed / tested if tested else None, "fates": dict(counts)}  # fmt: skip
    total = len(fates)
    killed = sum(1 for fate in fates.values() if fate in KILLED)
    tested = sum(1 for fate in fates.values() if fate != NOT_CHECKED)
    survivors = sorted(name for name, fate in fates.items() if fate not in KILLED and fate != NOT_CHECKED)
    return {
        "smoke": smoke,
        "mutants": total,
        "tested": tested,
        "killed": killed,
        "score": killed / total,
        "score_of_tested": killed / tested if tested else None,
        "seconds": round(seconds, 1),
        "modules": modules,
        "survivors": {name: fates[name] for name in survivors},
    }


def report(results: dict, out: Path) -> None:
    width = max(len(m) for m in results["modules"])
    print(f"{'module':<{width}}  mutants  tested  killed  score  of tested")
    for module, row in [*results["modules"].items(), ("all", results)]:
        of_tested = f"{row['score_of_tested']:>9.1%}" if row["score_of_tested"] is not None else f"{'–':>9}"
        print(
            f"{module:<{width}}  {row['mutants']:>7}  {row['tested']:>6}  {row['killed']:>6}  {row['score']:>5.1%}  {of_tested}"
        )
    untested = results["mutants"] - results["tested"]
    print(f"{len(results['survivors'])} tested and not killed, {untested} not tested yet ({results['seconds']:.0f} s); "
          f"see one with --show NAME --out {out}")  # fmt: skip
    for name, fate in results["survivors"].items():
        print(f"  {name}: {fate}")


if __name__ == "__main__":
    sys.exit(main())
