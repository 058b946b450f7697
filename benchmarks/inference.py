"""`cataract bench infer`: the Flax model's own forward pass, images/s per batch size.

The ceiling a served GPU flavour should approach: the same network and precision with no
server, no transfer and no decoding in the way (photos already on the device).
"""

from __future__ import annotations

import functools

import jax
from flax import nnx

from benchmarks.configs import InferenceBenchConfig
from benchmarks.timing import device_description, seconds_per_call, step_flops
from benchmarks.training import random_photos
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training.config import resolve_compute_dtype
from train_jax.training.predict import make_predict


def run_inference_benchmark(config: InferenceBenchConfig) -> dict:
    dtype = resolve_compute_dtype(config.compute_dtype, jax.default_backend())
    model = VGG16(ModelConfig(image_size=config.image_size, compute_dtype=dtype), rngs=nnx.Rngs(0))
    model.eval()
    graphdef, state = nnx.split(model, nnx.Param)
    predict = make_predict(graphdef)
    print(f"Flax forward pass, images/s | {config.image_size}x{config.image_size}, full-width VGG16, {dtype} | "
          f"{device_description()}")
    print(f"{'batch':>6s} {'images/s':>10s} {'ms/batch':>9s} {'TFLOP/s':>8s}")
    figures = []
    for batch in config.batches:
        images = jax.device_put(random_photos(batch, config.image_size)[0])
        flops = step_flops(predict, state, images)
        compiled = predict.lower(state, images).compile()
        seconds = seconds_per_call(functools.partial(compiled, state, images), config.steps)
        figures.append({"batch": batch, "images_per_second": batch / seconds, "ms_per_batch": 1000 * seconds,
                        "tflops_per_second": flops / seconds / 1e12})
        row = figures[-1]
        print(f"{batch:6d} {row['images_per_second']:10.1f} {row['ms_per_batch']:9.2f} {row['tflops_per_second']:8.1f}")
    report = {"device": device_description(), "image_size": config.image_size, "dtype": dtype, "figures": figures}
    return report
