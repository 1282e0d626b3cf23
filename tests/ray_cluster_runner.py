"""A Ray cluster on loopback and a `recipe-sweep --ray` run on it with one node killed, for test_sweep_ray.py.

Usage: unshare --net --pid --fork --kill-child --mount-proc python ray_cluster_runner.py SPEC SWEEP RAY_TMPDIR DEADLINE

Run in its own network namespace (where 127.0.0.1 is the only address, so Ray keeps it) and its own PID namespace
(where this script is process 1: every process it starts dies with it, whatever happens). It starts a head node
with no CPUs (so every trial runs on a worker node) and a worker node with 2, runs `recipe-sweep run SPEC -o SWEEP
--ray 127.0.0.1:PORT`, SIGKILLs every process of the worker node (its raylet, its Ray workers and the trainers they
started) as soon as a trial has saved its first epoch, starts a second worker node for the retries, waits for the
sweep (at most DEADLINE seconds in all), and stops Ray with `ray stop --force`. Prints one JSON line last.
"""

import fcntl
import json
import os
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

PORT = 6390
ADDRESS = f"127.0.0.1:{PORT}"
MARK = "RECIPE_TEST_RAY_NODE"
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.exit(main())"]


def ray_cli(*args: str, node: str, timeout: float = 60) -> None:
    env = {**os.environ, MARK: node}
    result = subprocess.run([*RAY, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise SystemExit(f"ray {' '.join(args)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")


def node_pids(node: str) -> list[int]:
    """The processes a node's `ray start` left (their environment carries its mark): raylet, agents, Ray workers,
    and the trainers those started."""
    mark = f"{MARK}={node}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def started_trials(sweep: Path) -> dict[str, dict[str, bool]]:
    """Trial folder → whether recipe-train has written its run.json and saved an epoch yet, for every trial that
    has started and not finished."""
    found = {}
    for folder in sorted((sweep / "trials").glob("*/*/seed-*")):
        if not (folder / "test-scores.json").is_file():
            found[str(folder.relative_to(sweep / "trials"))] = {
                "run_file": (folder / "run.json").is_file(),
                "epoch": (folder / "epoch-001").is_dir(),
            }
    return found


def loopback_up() -> None:
    """`ip link set lo up`, without needing iproute2: a new network namespace's loopback starts down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def main() -> int:
    spec, sweep, tmp, deadline = sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    end = time.monotonic() + deadline
    loopback_up()
    # Token authentication, as Ray ≥ 2.59 wants it: every node and the driver see the same token.
    # The head's health checks every 0.5 s, a node dead after 3 failed (Ray's defaults, 3 s and 5, take 15 s to
    # notice the killed node: the retries would wait for them).
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16), RAY_TMPDIR=tmp,
                      RAY_USAGE_STATS_ENABLED="0", RAY_health_check_period_ms="500",
                      RAY_health_check_failure_threshold="3")  # fmt: skip
    report: dict = {"killed": [], "in_progress": {}}
    try:
        ray_cli("start", "--head", "--port", str(PORT), "--node-ip-address", "127.0.0.1", "--num-cpus", "0",
                "--include-dashboard=false", "--disable-usage-stats", node="head")  # fmt: skip
        worker = ["start", "--address", ADDRESS, "--node-ip-address", "127.0.0.1", "--num-cpus", "2"]
        ray_cli(*worker, node="worker-1")
        started = time.monotonic()
        argv = [sys.executable, "-m", "recipe_cli", "sweep", "run", spec, "-o", str(sweep), "--ray", ADDRESS]
        sweep_proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            while time.monotonic() < end and sweep_proc.poll() is None:
                trials = started_trials(sweep)
                if any(trial["epoch"] for trial in trials.values()):
                    pids = node_pids("worker-1")
                    for pid in pids:
                        os.kill(pid, signal.SIGKILL)
                    report.update(killed=pids, in_progress=trials, killed_after=time.monotonic() - started)
                    break
                time.sleep(0.1)
            if report["killed"]:
                ray_cli(*worker, node="worker-2")
            output, _ = sweep_proc.communicate(timeout=max(1.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            sweep_proc.kill()
            output, _ = sweep_proc.communicate()
            report["timed_out"] = True
        report.update(code=sweep_proc.returncode, output=output, seconds=time.monotonic() - started)
    finally:
        stop = subprocess.run([*RAY, "stop", "--force"], capture_output=True, text=True, timeout=60, check=False)
        report["stop_code"] = stop.returncode
        print(json.dumps(report), flush=True)
    return 0


def init() -> int:
    """Process 1 of the PID namespace: run main() in a child and reap every orphan (the processes `ray start`
    leaves, killed ones included) until it ends; the kernel then kills whatever is left in the namespace."""
    child = os.fork()
    if child == 0:
        code = 1
        try:
            code = main()
        except SystemExit as e:
            print(e, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    while True:
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(init() if os.getpid() == 1 else main())
