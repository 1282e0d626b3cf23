"""Choosing the device: a GPU by id, with a one-line error where there is none."""

from thinc.api import require_gpu

from .errors import Errors, RecipeError


def use_gpu(gpu_id: int) -> None:
    """Run on GPU gpu_id (-1: stay on the CPU)."""
    if gpu_id < 0:
        return
    try:
        require_gpu(gpu_id)
    except Exception as e:  # thinc raises ValueError without cupy, CUDA errors without a device
        raise RecipeError(Errors.E050.format(gpu_id=gpu_id, error=f"{type(e).__name__}: {e}")) from None
