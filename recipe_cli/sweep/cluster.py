"""The same trials as Ray tasks: `--ray ADDRESS` (an existing cluster) or `--ray local` (one started here).

Each trial is one task with the spec's resources (num_cpus, num_gpus): it runs trial.run_trial on whichever node
Ray picks, writing into SWEEP, which must be on a filesystem every node sees at the same path. A trial whose node
or Ray worker dies is retried (MAX_RETRIES) and, finding its folder's run.json, goes on with recipe-train --resume
from its last epoch. A GPU trial trains with --gpu-id for the GPU Ray assigned (see assigned_gpu).

Ray ≥ 2.59 authenticates with a token: every node (`ray start`) and this driver must see the same token, from
RAY_AUTH_TOKEN, or a file named by RAY_AUTH_TOKEN_PATH, or Ray's default file ~/.ray/auth_token (`ray
get-auth-token --generate` writes it). A driver given an address turns token authentication on only when
RAY_AUTH_MODE=token is set. `--ray local` needs none of that: Ray makes (or reuses) a token for the cluster it starts.
"""

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..display.console import Console
from ..errors import Errors, RecipeError, RunInterrupted
from .spec import Trial
from .trial import run_trial

# Retries of a trial whose Ray worker or node died (an error inside the trial is not retried: it would fail again).
MAX_RETRIES = 3
# Ray's switch that leaves CUDA_VISIBLE_DEVICES alone: the ids it assigns are then the machine's own.
NOSET_CUDA = "RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"


def require_ray() -> None:
    """One line saying how to install Ray, before anything is written, when it is missing."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise RecipeError(Errors.E082) from None


def assigned_gpu(gpu_ids: Sequence[Any]) -> int:
    """The --gpu-id of a task Ray assigned gpu_ids to: 0, the first (and only) device of the CUDA_VISIBLE_DEVICES
    Ray set for it; the assigned id itself where Ray was told to leave CUDA_VISIBLE_DEVICES alone; -1 (the CPU)
    when it assigned none."""
    if not gpu_ids:
        return -1
    if os.environ.get(NOSET_CUDA, "") not in ("", "0"):
        return int(gpu_ids[0])
    return 0


def trial_task(trial: Trial, sweep: str) -> tuple[dict[str, Any] | None, str | None]:
    """The Ray task: one trial, on the GPU Ray assigned if it asked for one. RETURNS (row, None), or (None, the
    one-line error) for a trial that failed by itself (Ray retries only a task whose worker or node died)."""
    import ray

    try:
        return run_trial(trial, Path(sweep), gpu_id=assigned_gpu(ray.get_gpu_ids())), None
    except RecipeError as e:
        return None, str(e)


def connect(address: str, jobs: int) -> None:
    require_ray()
    import ray

    try:
        if address == "local":
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as e:  # noqa: BLE001 — Ray's own errors (connection, authentication) are one line
        # Ray says only "Failed to connect" for a missing or wrong token too (its log lines above say which).
        template = Errors.E089 if address == "local" else Errors.E091
        raise RecipeError(template.format(address=address, error=" ".join(str(e).split())[:500])) from None


def run_on_ray(
    trials: list[Trial],
    sweep: Path,
    *,
    ray_address: str,
    jobs: int,
    console: Console,
    done: Callable[[Trial, dict[str, Any] | None, str | None], None],
) -> None:
    connect(ray_address, jobs)
    import ray

    remote = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(trial_task)
    pending = {}
    try:
        for trial in trials:
            ref = remote.options(num_cpus=trial.cpus, num_gpus=trial.gpus, name=trial.id).remote(
                trial, str(Path(sweep).resolve())
            )
            pending[ref] = trial
        console.info("Ray", f"{len(pending)} trial(s) submitted to {ray_address}")
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                trial = pending.pop(ref)
                try:
                    row, error = ray.get(ref)
                except Exception as e:  # noqa: BLE001 — the task failed past its retries (its node died each time)
                    row, error = None, Errors.E090.format(id=trial.id, retries=MAX_RETRIES, error=" ".join(str(e).split())[:300])  # fmt: skip
                done(trial, row, error)
    except KeyboardInterrupt:
        # Cancelling a task raises KeyboardInterrupt in its worker (force=False): run_trial passes SIGINT on to the
        # trainer, which saves and exits.
        for ref in pending:
            ray.cancel(ref, force=False)
        time.sleep(2.0)
        raise RunInterrupted(Errors.E086.format(n=len(pending), sweep=sweep), 2) from None
    finally:
        ray.shutdown()
