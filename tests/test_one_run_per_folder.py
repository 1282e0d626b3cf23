"""One process owns an output folder at a time: a second recipe-train into a folder whose run is still going (a real
process, stopped with SIGSTOP at a chosen point while it holds the folder) is refused with one line naming the
folder and the owner's pid, exit 1, and changes nothing in it; the first run then ends as it would have alone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipe_cli.cli.train import app as train_app
from recipe_cli.errors import RecipeError
from recipe_cli.output.layout import epoch_folders
from recipe_cli.output.lock import LOCK_FILE, locked
from recipe_cli.output.metrics import read_rows

RUNNER = Path(__file__).parent / "kill_runner.py"
# 30 updates of one example each per epoch (the kill-point runs of test_resume.py).
LIMIT = 30
runner = CliRunner()


def _args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return ["ner", str(data_dir / "wnut17-train.conll"), "--dev", str(data_dir / "wnut17-dev.conll"), "-o", str(out),
            "--corpora.train.limit", str(LIMIT), "--corpora.dev.limit", str(LIMIT), "--seed", "1", "-q",
            "--no-plot", "--training.max_epochs", "2", *extra]  # fmt: skip


def _stopped_run(point: str, n: int, args: list[str]) -> subprocess.Popen:
    """recipe-train in a process that stops itself (SIGSTOP) at the n-th call of point, holding its folder."""
    proc = subprocess.Popen([sys.executable, str(RUNNER), point, str(n), "STOP", "--", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while Path(f"/proc/{proc.pid}/stat").read_text().split(")")[-1].split()[0] != "T":
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never reached its stopping point"
        time.sleep(0.05)
    return proc


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under folder, with each file's bytes."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _refused(out: Path, pid: int) -> str:
    return (
        f"[E043] Output folder {out} is in use by another recipe-train run (pid {pid}): wait for it to end or "
        "stop it, or choose another -o."
    )


def _finish(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads a process's state from /proc")
def test_a_live_run_that_has_only_written_run_json_is_not_taken_for_a_stopped_one(tmp_path, data_dir):
    """Stopped while counting its data: run.json is all it has written. A new run, with --overwrite or without,
    and --resume, each from a real second process, are refused and remove nothing; the first run ends as alone."""
    out = tmp_path / "out"
    first = _stopped_run("count", 1, _args(data_dir, out))
    try:
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "run.json"]
        assert (out / LOCK_FILE).read_text() == str(first.pid)
        before = _snapshot(out)
        for extra in ([], ["--overwrite"]):
            second = subprocess.run([sys.executable, "-m", "recipe_cli", "train", *_args(data_dir, out, *extra)],
                                    capture_output=True, text=True, check=False)  # fmt: skip
            assert (second.returncode, second.stdout, second.stderr) == (1, "", f"error: {_refused(out, first.pid)}\n")
            assert _snapshot(out) == before
        resumed = runner.invoke(train_app, ["--resume", str(out), "--no-plot"])
        assert (resumed.exit_code, resumed.output) == (1, f"error: {_refused(out, first.pid)}\n")
        assert _snapshot(out) == before
    finally:
        _finish(first)
    assert [row["epoch"] for row in read_rows(out / "metrics.jsonl")] == [1, 2]
    # The lock goes with the run: the folder holds what a run writes, nothing more.
    assert sorted(p.name for p in out.iterdir()) == ["epoch-001", "epoch-002", "metrics.jsonl", "model-best",
                                                     "model-last", "run.json"]  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads a process's state from /proc")
def test_a_live_run_with_saved_epochs_is_refused_to_overwrite_and_resume(tmp_path, data_dir):
    """Stopped in epoch 2, epoch 1 saved: without --overwrite the refusal names the owner (not "holds an earlier
    run"); --overwrite replaces nothing; --resume does not train beside it. The first run's rows stay its own."""
    out = tmp_path / "out"
    first = _stopped_run("update", LIMIT + 5, _args(data_dir, out))
    try:
        assert list(epoch_folders(out)) == [1]
        before = _snapshot(out)
        for args in (_args(data_dir, out), _args(data_dir, out, "--overwrite"), ["--resume", str(out), "--no-plot"]):
            result = runner.invoke(train_app, args)
            assert (result.exit_code, result.output) == (1, f"error: {_refused(out, first.pid)}\n"), args
            assert _snapshot(out) == before
    finally:
        _finish(first)
    rows = read_rows(out / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == [1, 2]
    assert not (out / LOCK_FILE).exists()


def test_a_killed_owner_leaves_its_lock_file_unlocked(tmp_path):
    """SIGKILL: the kernel lets go of the lock, the file stays behind with the dead pid; the next owner takes it,
    writes its own pid, and removes it when done."""
    folder = tmp_path / "out"
    folder.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time; f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
        "f.write(str(os.getpid())); f.flush(); print('held', flush=True); time.sleep(600)"), str(folder / LOCK_FILE)],
        stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(RecipeError) as info:
        with locked(folder, lambda pid: f"busy {pid}"):
            pass
    assert str(info.value) == f"busy {holder.pid}"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (folder / LOCK_FILE).read_text() == str(holder.pid)
    with locked(folder, lambda pid: f"busy {pid}"):
        assert (folder / LOCK_FILE).read_text() == str(os.getpid())
    assert list(folder.iterdir()) == []


def test_a_folder_the_lock_created_goes_again_when_the_work_fails(tmp_path):
    folder = tmp_path / "a" / "out"
    with pytest.raises(RecipeError):
        with locked(folder, lambda pid: f"busy {pid}", create=True):
            assert (folder / LOCK_FILE).is_file()
            raise RecipeError("bad data")
    assert not folder.exists()


def _unwritable(tmp_path: Path) -> Path:
    """An output folder the OS refuses to create: in a read-only folder, or (for root, whom permissions do not stop)
    in /sys, which refuses everyone."""
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    if not os.access(parent, os.W_OK):
        return parent / "out"
    if not Path("/sys/kernel").is_dir():
        pytest.skip("no folder this user cannot write in")
    return Path("/sys/recipe-train-out")


def test_an_output_folder_that_cannot_be_created_is_one_coded_line(tmp_path, data_dir):
    out = _unwritable(tmp_path)
    with pytest.raises(OSError) as refused:
        out.mkdir()
    result = runner.invoke(train_app, _args(data_dir, out))
    assert (result.exit_code, result.output) == (
        1,
        f"error: [E044] Cannot write in {out} ({refused.value.strerror}): choose another folder, or make this one "
        "writable.\n",
    )
    assert not out.exists()
