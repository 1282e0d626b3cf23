"""The same trials as Ray tasks: `--ray ADDRESS` (an existing cluster) or `--ray local` (one started here).

Each trial is one task with the spec's resources (num_cpus, num_gpus): it runs trial.run_trial on whichever node
Ray picks, writing into SWEEP, which must be on a filesystem every node sees at the same path. A trial whose node
dies is retried (max_retries) and, finding its folder, goes on with recipe-train --resume from its last epoch. A GPU
trial trains with --gpu-id 0: Ray sets CUDA_VISIBLE_DEVICES to the GPU it assigned.

Ray ≥ 2.59 authenticates with a token (RAY_AUTH_MODE=token): `ray start` and this driver must see the same token,
from RAY_AUTH_TOKEN, or a file named by RAY_AUTH_TOKEN_PATH, or Ray's default token file (`ray get-auth-token
--generate` writes it). `--ray local` needs none of that: Ray makes a token for the cluster it starts.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..display.console import Console
from ..errors import Errors, RecipeError, RunInterrupted
from .spec import Trial
from .trial import run_trial

# Retries of a trial whose worker or node died (an error inside the trial is not retried: it would fail again).
MAX_RETRIES = 3


def _trial_task(trial: Trial, sweep: str) -> tuple[dict[str, Any] | None, str | None]:
    """The Ray task: one trial, on the GPU Ray assigned if it asked for one."""
    import ray

    gpu_id = 0 if ray.get_gpu_ids() else -1
    try:
        return run_trial(trial, Path(sweep), gpu_id=gpu_id), None
    except RecipeError as e:
        return None, str(e)


def connect(address: str, jobs: int) -> None:
    try:
        import ray
    except ImportError:
        raise RecipeError(Errors.E082) from None
    try:
        if address == "local":
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as e:  # noqa: BLE001 — Ray's own errors (connection, authentication) are one line
        raise RecipeError(Errors.E089.format(address=address, error=" ".join(str(e).split())[:500])) from None


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

    remote = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_trial_task)
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
                except Exception as e:  # noqa: BLE001 — the task failed past its retries
                    row, error = None, Errors.E084.format(id=trial.id, step="ray task", code="an error",
                                                           line=" ".join(str(e).split())[:300], log="Ray's logs")  # fmt: skip
                done(trial, row, error)
    except KeyboardInterrupt:
        # Cancelling a task sends its worker SIGINT (force=False): the trainer it started saves and exits.
        for ref in pending:
            ray.cancel(ref, force=False)
        time.sleep(2.0)
        raise RunInterrupted(Errors.E086.format(n=len(pending), sweep=sweep), 2) from None
    finally:
        ray.shutdown()
