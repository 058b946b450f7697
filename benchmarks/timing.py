"""What every benchmark needs: which devices it ran on, a compiled function's FLOPs from
XLA's cost analysis, timed repetitions, and the device's peak rate for utilisation."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import SingleDeviceSharding

# Dense bfloat16 peak of the cards' data sheets (TFLOP/s, without sparsity): the
# denominator people quote MFU against. The measured matrix-product peak is shown beside it.
DATA_SHEET_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.1}
PEAK_MATMUL_SIDE = {"gpu": 8192, "cpu": 2048}


def device_description() -> str:
    device = jax.devices()[0]
    return (f"{device.platform}: {getattr(device, 'device_kind', device)} x{jax.device_count()}, "
            f"{os.cpu_count()} CPU cores, JAX {jax.__version__}")


def step_flops(jitted, *args) -> float:
    """FLOPs of one call of a jitted function on `args`, from XLA's cost analysis (a
    multiply-add is 2). The function is lowered for the CPU, whose analysis counts every
    convolution: a GPU's compiled module hands them to cuDNN as custom calls, which the
    analysis cannot count, and its lowered module offers no analysis at all."""
    cpu = SingleDeviceSharding(jax.devices("cpu")[0])
    abstract = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=cpu), args)
    analysis: Any = jitted.lower(*abstract).cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older JAX: one entry per computation
        analysis = analysis[0]
    return float(analysis.get("flops", float("nan")))


def seconds_per_call(call: Callable[[], Any], repetitions: int, warmup: int = 2) -> float:
    """Mean wall time of `call`, which returns device arrays; JAX's asynchronous dispatch
    is waited out once at the end, as a training loop would."""
    result = None
    for _ in range(warmup):
        result = call()
    jax.block_until_ready(result)
    started = time.perf_counter()
    for _ in range(repetitions):
        result = call()
    jax.block_until_ready(result)
    return (time.perf_counter() - started) / repetitions


def measured_matmul_tflops(dtype: str) -> float:
    """The rate of a large square matrix product on this device: the practical peak."""
    side = PEAK_MATMUL_SIDE.get(jax.default_backend(), PEAK_MATMUL_SIDE["gpu"])
    kind = jnp.bfloat16 if dtype == "bfloat16" else jnp.float32
    a = jax.random.normal(jax.random.key(0), (side, side), kind)
    b = jax.random.normal(jax.random.key(1), (side, side), kind)
    product = jax.jit(jnp.matmul)
    seconds = seconds_per_call(lambda: product(a, b), repetitions=10)
    return 2 * side**3 / seconds / 1e12


def data_sheet_tflops() -> float | None:
    kind = str(getattr(jax.devices()[0], "device_kind", ""))
    return next((peak for name, peak in DATA_SHEET_BF16_TFLOPS.items() if name in kind), None)
