"""Choosing the device: a GPU by id, with a one-line error where there is none; and naming the one in use."""

from thinc.api import get_current_ops, require_gpu

from .errors import Errors, RecipeError


def use_gpu(gpu_id: int) -> None:
    """Run on GPU gpu_id (-1: stay on the CPU)."""
    if gpu_id < 0:
        return
    try:
        require_gpu(gpu_id)
    except Exception as e:  # thinc raises ValueError without cupy, CUDA errors without a device
        raise RecipeError(Errors.E050.format(gpu_id=gpu_id, error=f"{type(e).__name__}: {e}")) from None


def describe_device() -> str:
    """The device thinc's current ops compute on, as the training header names it: "CPU", or "GPU 0 (its name)"."""
    ops = get_current_ops()
    if ops.device_type != "gpu":
        return "CPU"
    import cupy

    device = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"]
    return f"GPU {device.id} ({name.decode() if isinstance(name, bytes) else name})"
