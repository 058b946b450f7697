"""The Triton model repository: every config.pbtxt is built here, in one place, as
Triton's ModelConfig protobuf and written in protobuf text format after a comment header.

    <repository>/
      cataract_vgg16/            the classifier
        config.pbtxt             embedded flavour: python backend running the SavedModel with TF
        configs/gpu_onnx.pbtxt   GPU flavour, Triton >= 25.03: the ONNX twin on onnxruntime
                                 with TensorRT FP16 (`--model-config-name=gpu_onnx`)
        configs/gpu_tensorflow.pbtxt  GPU flavour, Triton <= 25.02: the SavedModel with TF-TRT
                                 FP16 (`--model-config-name=gpu_tensorflow`)
        labels.txt               cataract, normal (the output order)
        model.py                 python-backend source, copied into each version
        <N>/model.savedmodel     exported versions; the one the configs name is served
        <N>/model.onnx           the ONNX twin of the SavedModel
        <N>/model.py, <N>/model_card.json, and the code model.py imports:
        <N>/savedmodel_runner/, <N>/cataract_contract/
      preprocess/                python: encoded JPEG/PNG bytes -> uint8 image, with
        1/cataract_contract/     the shared contract, so the repository is self-contained
      cataract/                  ensemble: bytes -> preprocess -> cataract_vgg16

Why each value is what it is: model_repository/README.md, and the comments beside the
constants below. The python models' sources live in the project's own model_repository/
folder; export copies them, with the modules they import, into the repository it writes.
Every file is written beside its place, flushed to disk and renamed over it, so a server
(or a person) reading the repository meanwhile sees the old file or the new one, never half
of one. The classifier's configs name the one version served (version_policy specific),
with that version's parameters: rewriting one of them is the one step that switches a
server reading it (train_jax/export/export.py).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
from pathlib import Path

import cataract_contract
from cataract_contract import (
    CLASS_NAMES,
    CLASSIFIER,
    CLASSIFIER_OUTPUTS,
    ENSEMBLE,
    GRADABILITY_CHECKED,
    HEATMAP_REDUCTION,
    INPUT_IMAGE,
    INPUT_IMAGE_BYTES,
    INPUT_PHOTO_SIZE,
    LABELS_FILE,
    OUTPUT_GRADABLE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    OUTPUT_UNGRADABLE_REASON,
    PARAMETER_GRADABILITY,
    PARAMETER_IMAGE_SIZE,
    PREPROCESS,
    SAVEDMODEL_DIR,
    UNGATED_OUTPUTS,
)
import savedmodel_runner
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc
from train_jax.export.onnx_twin import ONNX_FILE
from train_jax.errors import UserError
from train_jax.files import write_atomically

log = logging.getLogger(__name__)

# Tests only: end the process after this many changes to the repository (crash_point).
CRASH_AT_ENVIRONMENT = "CATARACT_EXPORT_CRASH_AT"
CRASH_EXIT_CODE = 86
_changes_made = itertools.count(1)

GPU_TENSORFLOW_CONFIG = "gpu_tensorflow"  # Triton <= 25.02: configs/gpu_tensorflow.pbtxt
GPU_ONNX_CONFIG = "gpu_onnx"  # Triton >= 25.03: configs/gpu_onnx.pbtxt
TRT_WORKSPACE_BYTES = 1 << 30
# Where the ONNX flavour's TensorRT engines are cached: a volume scripts/serve_gpu.sh
# mounts, so a restart reuses the engines instead of building them again for minutes.
TRT_ENGINE_CACHE = "/trt_cache"

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_REPOSITORY = PROJECT_ROOT / "model_repository"
CLASSIFIER_SOURCE = PROJECT_REPOSITORY / CLASSIFIER / "model.py"
PREPROCESS_SOURCE = PROJECT_REPOSITORY / PREPROCESS / "1" / "model.py"
# What the python models import: the stub's sys.path holds the version folder (and
# ignores PYTHONPATH), so these travel with the repository, into the container too.
CONTRACT_SOURCE = Path(cataract_contract.__file__).parent  # a package of one module
RUNNER_SOURCE = Path(savedmodel_runner.__file__).parent  # a package of one module, too

# -- Overload: one latency budget for the ensemble, split between its two steps --
# An answered photo waits in preprocess's queue, is decoded in one of its batches, waits in
# the classifier's queue (for the batch running when it came, then the batches ahead of it)
# and is computed in its own batch. Each step's queue timeout bounds its wait (Triton
# refuses a request still queued then: "Request timeout expired"), so an answered photo
# takes at most LATENCY_BUDGET_SECONDS = preprocess's wait and batch + classifier timeout +
# classifier batch (preprocess's wait counted for photos of the dataset's size: a photo
# behind large ones, seconds to decode, may wait up to preprocess's timeout). A queue holds about what its step serves within its timeout
# (rate x timeout), so that one more is refused at once ("Exceeds maximum queue size")
# rather than after waiting its timeout out, except where that costs more than waiting
# (the CPU classifier, below); the client reports both as busy. The bounds count requests,
# not photos (a request of the client's tensor transport carries up to a batch): the
# timeout bounds the wait whatever a request carries. A client may ask for a shorter wait
# with its own deadline (allow_timeout_override; Triton takes the smaller, and the ensemble
# passes it to both steps). Rates are those of the slowest served case, the 224x224 VGG16
# in float32, measured with `cataract bench serve`: faster cases (bfloat16 at 13.4
# photos/s, smaller models) wait less within the same bounds.
LATENCY_BUDGET_SECONDS = 2.5  # p99 of answered photos at concurrency 64 (issue 22)
# Decoding is light next to the network: two instances decode while the classifier runs.
PREPROCESS_INSTANCES = 2
# Preprocess, every flavour (it decodes on the CPU, beside a GPU too): decode_image +
# resize_for_model of the dataset's photos (~33 KB JPEGs, 512 px) took 9.8 ms each on one
# core of this machine while it was busy, so ~100 photos/s per instance. A batch of 8
# decodes in ~80 ms, and a photo waits at most for the running batch, then its own
# (PREPROCESS_WAIT_SECONDS). The timeout is a safety net, not part of the budget: photos the
# contract accepts may decode for about a second each on an idle core (the 5000x5000 RGBA
# PNG of tests/client/test_bad_inputs.py: 0.9 s; a 6300x6300 16-bit one 0.6 s), and two or
# three times as long on a core shared with training, so a photo queued while both
# instances decode such photos waits seconds. 1 s refused it as busy in CI (2 cores, two
# test processes), 0.15 s on a quiet machine; 4 s lets it wait for both. Ordinary photos
# never come near it: a full queue of them drains in ~0.15 s. The queue is bounded by
# memory, not time: 30 encoded photos of up to 20 MiB each.
PREPROCESS_PHOTOS_PER_SECOND = 100  # per instance
PREPROCESS_MAX_BATCH = 8
PREPROCESS_WAIT_SECONDS = 2 * PREPROCESS_MAX_BATCH / PREPROCESS_PHOTOS_PER_SECOND
PREPROCESS_QUEUE_TIMEOUT_SECONDS = 4.0
PREPROCESS_MAX_QUEUE = 30


def budget_left(classifier_batch_seconds: float) -> float:
    """The classifier's queue timeout: what the latency budget leaves once preprocess's
    wait and batch and the classifier's own batch are counted, to the 0.1 s below."""
    spent = PREPROCESS_WAIT_SECONDS + classifier_batch_seconds
    return math.floor(10 * (LATENCY_BUDGET_SECONDS - spent)) / 10


# The CPU classifier, float32 at 224: 7.1 photos/s in the README's run (6.55 at batch 1,
# 6.96 at 4, 7.18 at 16: TensorFlow already spreads one call over every core, so a batch
# gains little), 3.9-4.05 at every level on 2026-12-01 (in-process 4.19 at batch 1, 4.52 at
# 8); the slower is used. One photo per batch then takes 0.25 s, at 91-100% of the best
# rate (more gained nothing on the slower day); 16 took 2.3 s on the faster day, the whole
# budget. Its queue timeout is what the budget leaves with that batch counted at 1.5 times
# its time (the margin for TensorFlow sharing the 2 cores with the decoding of photos
# refused meanwhile), to the 0.1 s below: 1.9 s. The client library's 4 requests in flight
# then wait 0.75 s at most; with batches of 2 (8 photos in flight) 1.5 s, and `cataract
# bench serve`'s client was refused. Its queue is not rate x timeout (7) but what memory
# allows: the ensemble decodes a photo before the classifier's queue can refuse it, and a
# client refused at once is back after its pause, decoded again each time. Measured with
# `cataract bench overload` at concurrency 64 (0.1 s pause), batches of 4, while other
# jobs ran: a queue of 12 refused ~200 requests/s at once and answered 42% of the
# saturation throughput; a queue holding every client made each wait its timeout out
# instead, ~30 refusals/s, 98%. With the values here, on a quiet machine: 96% of the
# saturation measured first, p99 2.14 s (11.1 s before). 128 requests are 19 MB of 224x224 photos.
# Smaller models keep dynamic batching: the network's cost grows with its pixel count, so
# at image size S a batch of the same 0.25 s holds (224 / S)^2 times as many photos (12 at
# 64, the cap of 16 at 32), and the timeout derived from it holds for every size.
CPU_CLASSIFIER_PHOTOS_PER_SECOND = 4.0  # at CPU_RATE_IMAGE_SIZE
CPU_RATE_IMAGE_SIZE = 224
CPU_BATCH_SECONDS = 1 / CPU_CLASSIFIER_PHOTOS_PER_SECOND  # one 224 photo
CPU_BATCH_CAP = 16  # bounds the memory of one TensorFlow call
CPU_OVERLOAD_SLOWDOWN = 1.5
CPU_QUEUE_TIMEOUT_SECONDS = budget_left(CPU_OVERLOAD_SLOWDOWN * CPU_BATCH_SECONDS)  # 1.9
CPU_MAX_QUEUE = 128
# The GPU classifier: batches are the main lever and one of 32 keeps a GPU busy; the Flax
# forward pass runs ~10,000 photos/s there (README, "Measured on a GPU"), so a batch takes
# ~3 ms and decoding upstream, not the GPU, limits the rate. Its timeout is again what the
# budget leaves; its queue is bounded by memory, not time: 4 batches of requests (a tensor
# request carries up to 32 photos, ~4.8 MB at 224) drain in ~13 ms, far within the timeout.


def cpu_max_batch(image_size: int) -> int:
    """The CPU classifier's largest batch at `image_size`: as many photos as it serves in
    CPU_BATCH_SECONDS at the measured rate, scaled by the pixel count (1 at 224)."""
    rate = CPU_CLASSIFIER_PHOTOS_PER_SECOND * (CPU_RATE_IMAGE_SIZE / image_size) ** 2
    return max(1, min(CPU_BATCH_CAP, int(rate * CPU_BATCH_SECONDS + 1e-9)))


GPU_CLASSIFIER_PHOTOS_PER_SECOND = 10_000
GPU_MAX_BATCH = 32
GPU_BATCH_SECONDS = GPU_MAX_BATCH / GPU_CLASSIFIER_PHOTOS_PER_SECOND
GPU_QUEUE_TIMEOUT_SECONDS = budget_left(GPU_BATCH_SECONDS)  # 2.3
GPU_MAX_QUEUE = 4 * GPU_MAX_BATCH
# How long the batcher holds a request for others to join: requests that arrive together
# leave as one batch, and at low load nobody waits noticeably. Preprocess does not wait.
QUEUE_DELAY_MICROSECONDS = 2000
# One photo per ensemble request: Triton holds a whole request before any model sees it,
# so this bounds a valid one to a single photo (preprocess still batches across requests).
ENSEMBLE_MAX_BATCH = 1
# The classifier runs one instance everywhere. On a CPU TensorFlow already spreads one call
# over every core, and a second instance would only make two calls fight for them. On a GPU
# each instance builds its own session and TensorRT engines (neither backend shares them
# between instances in any release), so a second would double the memory and the engine
# builds for little: the dynamic batcher forms the next batch while this one runs.
CLASSIFIER_INSTANCES = 1

# Every config file opens with a comment header (text format carries no comments); the
# reasons for the values are in the project's model_repository/README.md.
GENERATED = ("Generated by `cataract export` (and `cataract rollback`); re-export rather than edit.",
             "Why these values: model_repository/README.md in the project.")


def config_text(about: str, config: mc.ModelConfig) -> str:
    """A config file: the comment header (`about`, then how it was made), then `config` in
    text format, its fields in the order model_config.proto declares them."""
    header = "".join(f"# {line}\n" for line in (*about.splitlines(), *GENERATED))
    return header + text_format.MessageToString(config, as_utf8=True, use_index_order=True,
                                                use_short_repeated_primitives=True)


def model_parameters(parameters: dict[str, str]) -> dict[str, mc.ModelParameter]:
    """Config parameters (strings, read back by any client) as a config's `parameters`."""
    return {key: mc.ModelParameter(string_value=str(value)) for key, value in parameters.items()}


def dynamic_batching(max_queue_size: int, queue_timeout_seconds: float,
                     delay_microseconds: int = QUEUE_DELAY_MICROSECONDS) -> mc.ModelDynamicBatching:
    """Dynamic batching with a bounded queue: under overload, a request that finds
    `max_queue_size` others waiting is refused at once ("Exceeds maximum queue size"),
    and one that waited `queue_timeout_seconds` is refused then ("Request timeout
    expired"); the client reports both as ServerBusyError. Nothing waits without limit.
    A request's own timeout (the client's deadline) replaces the queue's when shorter
    (allow_timeout_override), so nothing is computed for a client that stopped waiting.
    No preferred batch sizes: the batcher then sends the largest batch available."""
    return mc.ModelDynamicBatching(
        max_queue_delay_microseconds=delay_microseconds,
        default_queue_policy=mc.ModelQueuePolicy(max_queue_size=max_queue_size, timeout_action=mc.ModelQueuePolicy.REJECT,
                                                 default_timeout_microseconds=round(queue_timeout_seconds * 1e6),
                                                 allow_timeout_override=True))


def version_policy(version: int) -> tuple[str, mc.ModelVersionPolicy]:
    """Exactly one version is served, named: a version folder added beside it is not served
    until this config names it, so export switches with one rename of the file. Returns the
    header's line about it and the policy."""
    return (f"Serves version {version} only: `cataract export` adds a version beside it and then\n"
            "switches to it by renaming this file into place; `cataract rollback` serves another.",
            mc.ModelVersionPolicy(specific=mc.ModelVersionPolicy.Specific(versions=[version])))


# -- the classifier's interface: one stanza for every flavour (and the ensemble's outputs) --

def image_dims(image_size: int) -> list[int]:
    return [image_size, image_size, 3]


def is_gated(parameters: dict[str, str]) -> bool:
    """Whether the version these served parameters describe has the gradability gate: its
    model card says so. A version exported before the gate is served with configs listing
    only the input and outputs its graph has."""
    return parameters.get(PARAMETER_GRADABILITY) == GRADABILITY_CHECKED


def classifier_inputs(image_size: int, gated: bool, photo_size_optional: bool) -> list[mc.ModelInput]:
    """Raw RGB pixels: the VGG normalisation is inside the model, so no client can get it
    wrong; with the gate, the decoded photo's height and width (0, 0: not known, not
    checked). That input is optional where the backend allows it: the python backend does;
    the TensorFlow and onnxruntime backends take no optional input in a model that batches
    (their model loading refuses one), so there a raw caller sends 0, 0."""
    inputs = [mc.ModelInput(name=INPUT_IMAGE, data_type=mc.TYPE_UINT8, format=mc.ModelInput.FORMAT_NHWC,
                            dims=image_dims(image_size))]
    if gated:
        inputs.append(mc.ModelInput(name=INPUT_PHOTO_SIZE, data_type=mc.TYPE_INT32, dims=[2], optional=photo_size_optional))
    return inputs


def classifier_outputs(image_size: int, gated: bool = True) -> list[mc.ModelOutput]:
    """P(cataract), P(normal) in the order of labels.txt (which also serves the
    classification extension), the class-activation map and, with the gate, whether the
    photo was graded and why not, in the contract's order."""
    side = image_size // HEATMAP_REDUCTION
    outputs = {
        OUTPUT_PROBABILITIES: mc.ModelOutput(name=OUTPUT_PROBABILITIES, data_type=mc.TYPE_FP32, dims=[len(CLASS_NAMES)],
                                             label_filename=LABELS_FILE),
        OUTPUT_HEATMAP: mc.ModelOutput(name=OUTPUT_HEATMAP, data_type=mc.TYPE_FP32, dims=[side, side]),
        OUTPUT_GRADABLE: mc.ModelOutput(name=OUTPUT_GRADABLE, data_type=mc.TYPE_BOOL, dims=[1]),
        OUTPUT_UNGRADABLE_REASON: mc.ModelOutput(name=OUTPUT_UNGRADABLE_REASON, data_type=mc.TYPE_INT32, dims=[1]),
    }
    return [outputs[name] for name in (CLASSIFIER_OUTPUTS if gated else UNGATED_OUTPUTS)]


def warmup(image_size: int, batch_sizes: tuple[int, ...], gated: bool) -> list[mc.ModelWarmup]:
    """Runs before the model is marked ready, so the first user request is not the slow one
    (on a GPU it builds the TensorRT engines of these batch sizes)."""
    inputs = {INPUT_IMAGE: mc.ModelWarmup.Input(data_type=mc.TYPE_UINT8, dims=image_dims(image_size), zero_data=True)}
    if gated:
        inputs[INPUT_PHOTO_SIZE] = mc.ModelWarmup.Input(data_type=mc.TYPE_INT32, dims=[2], zero_data=True)
    return [mc.ModelWarmup(name=f"zeros_batch_{size}", batch_size=size, inputs=inputs) for size in batch_sizes]


def classifier_flavour(image_size: int, parameters: dict[str, str], version: int, *, about: str,
                       photo_size_optional: bool, warmup_batches: tuple[int, ...], **flavour) -> str:
    """The classifier's config in one flavour: the interface, version policy, warm-up and
    served parameters every flavour shares, then the ModelConfig fields `flavour` sets
    (backend or platform, batching, instances, accelerators)."""
    policy_line, policy = version_policy(version)
    gated = is_gated(parameters)
    if gated and not photo_size_optional:
        about += (f"\n{INPUT_PHOTO_SIZE} is required here (this backend takes no optional input): a raw caller that\n"
                  "does not know the photo's size sends 0, 0, and the size is then not checked.")
    config = mc.ModelConfig(name=CLASSIFIER, version_policy=policy, input=classifier_inputs(image_size, gated, photo_size_optional),
                            output=classifier_outputs(image_size, gated), parameters=model_parameters(parameters),
                            model_warmup=warmup(image_size, warmup_batches, gated), **flavour)
    return config_text(f"{CLASSIFIER}: {about}\n{policy_line}", config)


def classifier_config(image_size: int, parameters: dict[str, str], version: int) -> str:
    """Embedded flavour: python backend, TensorFlow on the CPU, one TF call per batch."""
    return classifier_flavour(
        image_size, parameters, version,
        about=f"""the cataract classifier (VGG16 fine-tuned in JAX), embedded flavour: the
default config, for any machine. The python backend's model.py runs <version>/{SAVEDMODEL_DIR}
with TensorFlow on the CPU, one call per batch. GPU flavours beside it, selected with
`tritonserver --model-config-name`: configs/{GPU_ONNX_CONFIG}.pbtxt, configs/{GPU_TENSORFLOW_CONFIG}.pbtxt.""",
        photo_size_optional=True, warmup_batches=(1,), backend="python", max_batch_size=cpu_max_batch(image_size),
        instance_group=[mc.ModelInstanceGroup(kind=mc.ModelInstanceGroup.KIND_CPU, count=CLASSIFIER_INSTANCES)],
        dynamic_batching=dynamic_batching(CPU_MAX_QUEUE, CPU_QUEUE_TIMEOUT_SECONDS))


def classifier_gpu_tensorflow_config(image_size: int, parameters: dict[str, str], version: int) -> str:
    """GPU flavour for Triton 25.02 and earlier (the last with the TensorFlow backend): the
    frozen SavedModel, with TF-TRT building TensorRT FP16 engines of its convolutions."""
    return gpu_classifier(
        image_size, parameters, version,
        about=f"""GPU flavour for Triton <= 25.02 (TensorFlow backend, TF-TRT FP16), selected with
`tritonserver --model-config-name={GPU_TENSORFLOW_CONFIG}` (scripts/serve_gpu.sh --release 25.02).""",
        accelerator_parameters={}, platform="tensorflow_savedmodel")


def classifier_gpu_onnx_config(image_size: int, parameters: dict[str, str], version: int) -> str:
    """GPU flavour for Triton 25.03 and later (no TensorFlow backend): the ONNX twin on the
    onnxruntime backend, with its TensorRT execution provider in FP16: one optimisation
    profile for every batch from 1 to GPU_MAX_BATCH, its engines cached across restarts."""
    # The profile names every input: TensorRT needs each dynamic input's shapes.
    with_size = is_gated(parameters)
    shapes = {name: f"{INPUT_IMAGE}:{batch}x{image_size}x{image_size}x3" + (f",{INPUT_PHOTO_SIZE}:{batch}x2" if with_size else "")
              for name, batch in (("min", 1), ("opt", GPU_MAX_BATCH), ("max", GPU_MAX_BATCH))}
    return gpu_classifier(
        image_size, parameters, version,
        about=f"""GPU flavour for Triton >= 25.03 (onnxruntime backend, TensorRT FP16), selected
with `tritonserver --model-config-name={GPU_ONNX_CONFIG}` (scripts/serve_gpu.sh, the default).
Serves <version>/{ONNX_FILE}, converted from the SavedModel and checked against it by export.""",
        accelerator_parameters={"trt_engine_cache_enable": "1", "trt_engine_cache_path": TRT_ENGINE_CACHE,
                                "trt_profile_min_shapes": shapes["min"], "trt_profile_opt_shapes": shapes["opt"],
                                "trt_profile_max_shapes": shapes["max"]},
        platform="onnxruntime_onnx", default_model_filename=ONNX_FILE)


def gpu_classifier(image_size: int, parameters: dict[str, str], version: int, *, about: str,
                   accelerator_parameters: dict[str, str], **platform) -> str:
    """Both GPU flavours batch, place instances and use TensorRT in FP16 alike."""
    tensorrt = mc.ModelOptimizationPolicy.ExecutionAccelerators.Accelerator(
        name="tensorrt",
        parameters={"precision_mode": "FP16", "max_workspace_size_bytes": str(TRT_WORKSPACE_BYTES), **accelerator_parameters})
    return classifier_flavour(
        image_size, parameters, version, about=about, photo_size_optional=False, warmup_batches=(1, GPU_MAX_BATCH),
        **platform, max_batch_size=GPU_MAX_BATCH,
        instance_group=[mc.ModelInstanceGroup(kind=mc.ModelInstanceGroup.KIND_GPU, count=CLASSIFIER_INSTANCES)],
        dynamic_batching=dynamic_batching(GPU_MAX_QUEUE, GPU_QUEUE_TIMEOUT_SECONDS),
        optimization=mc.ModelOptimizationPolicy(
            execution_accelerators=mc.ModelOptimizationPolicy.ExecutionAccelerators(gpu_execution_accelerator=[tensorrt])))


def preprocess_config(image_size: int) -> str:
    config = mc.ModelConfig(
        name=PREPROCESS, backend="python", max_batch_size=PREPROCESS_MAX_BATCH,
        # One encoded photo per batch row; photos of different lengths batch together (ragged).
        input=[mc.ModelInput(name=INPUT_IMAGE_BYTES, data_type=mc.TYPE_UINT8, dims=[-1], allow_ragged_batch=True)],
        # The photo's decoded height and width besides: the classifier cannot see it in the
        # resized pixels, and its gate refuses a photo too small (an answer, not an error).
        output=[mc.ModelOutput(name=INPUT_IMAGE, data_type=mc.TYPE_UINT8, dims=image_dims(image_size)),
                mc.ModelOutput(name=INPUT_PHOTO_SIZE, data_type=mc.TYPE_INT32, dims=[2])],
        instance_group=[mc.ModelInstanceGroup(kind=mc.ModelInstanceGroup.KIND_CPU, count=PREPROCESS_INSTANCES)],
        dynamic_batching=dynamic_batching(PREPROCESS_MAX_QUEUE, PREPROCESS_QUEUE_TIMEOUT_SECONDS, delay_microseconds=0),
        parameters=model_parameters({PARAMETER_IMAGE_SIZE: str(image_size)}))
    return config_text(f"""{PREPROCESS}: encoded JPEG/PNG/... bytes -> the classifier's uint8 input, with the same
decode (EXIF orientation, RGB) and resize as training (cataract_contract), and the photo's
decoded height and width before resizing ({INPUT_PHOTO_SIZE}).""", config)


def ensemble_config(image_size: int, gated: bool) -> str:
    """Preprocess's image (and, for a classifier with the gate, the photo's size) into the
    classifier; the classifier's outputs out."""
    decoded = {INPUT_IMAGE: "decoded_image", INPUT_PHOTO_SIZE: "decoded_photo_size"}
    passed = (INPUT_IMAGE, INPUT_PHOTO_SIZE) if gated else (INPUT_IMAGE,)
    config = mc.ModelConfig(
        name=ENSEMBLE, platform="ensemble", max_batch_size=ENSEMBLE_MAX_BATCH,
        input=[mc.ModelInput(name=INPUT_IMAGE_BYTES, data_type=mc.TYPE_UINT8, dims=[-1])],
        output=classifier_outputs(image_size, gated),
        ensemble_scheduling=mc.ModelEnsembling(step=[
            mc.ModelEnsembling.Step(model_name=PREPROCESS, model_version=-1, input_map={INPUT_IMAGE_BYTES: INPUT_IMAGE_BYTES},
                                    output_map={name: decoded[name] for name in passed}),
            mc.ModelEnsembling.Step(model_name=CLASSIFIER, model_version=-1, input_map={name: decoded[name] for name in passed},
                                    output_map={name: name for name in (CLASSIFIER_OUTPUTS if gated else UNGATED_OUTPUTS)}),
        ]))
    checked = "" if gated else f"\nThe served {CLASSIFIER} was exported before the gradability gate: no {INPUT_PHOTO_SIZE}, two outputs."
    return config_text(f"{ENSEMBLE}: photos in, answers out, one photo per request. Encoded bytes ->\n"
                       f"{PREPROCESS} -> {CLASSIFIER}.{checked}", config)


def parse_config(text: str) -> mc.ModelConfig:
    """Parse config.pbtxt text into Triton's ModelConfig protobuf (raises on any error)."""
    return text_format.Parse(text, mc.ModelConfig())


def write_configs(repository: Path, image_size: int, parameters: dict[str, str], version: int) -> None:
    """Write every model's config, labels and python sources; validate each config.
    The classifier serves `version`, described by `parameters` (its model card's, which say
    whether it has the gradability gate): each flavour's config is one file, so a server
    switches in one step. What does not change (all but the classifier's configs, unless
    the image size or the gate's presence does) is left alone."""
    for source in (CLASSIFIER_SOURCE, PREPROCESS_SOURCE):
        if not source.is_file():
            raise UserError(f"{source} is missing: export needs the project checkout's model_repository/")
    labels = "".join(name + "\n" for name in CLASS_NAMES)
    files = {
        repository / CLASSIFIER / LABELS_FILE: labels,
        repository / ENSEMBLE / LABELS_FILE: labels,
        repository / PREPROCESS / "config.pbtxt": preprocess_config(image_size),
        repository / ENSEMBLE / "config.pbtxt": ensemble_config(image_size, is_gated(parameters)),
        repository / CLASSIFIER / "config.pbtxt": classifier_config(image_size, parameters, version),
        repository / CLASSIFIER / "configs" / f"{GPU_TENSORFLOW_CONFIG}.pbtxt":
            classifier_gpu_tensorflow_config(image_size, parameters, version),
        repository / CLASSIFIER / "configs" / f"{GPU_ONNX_CONFIG}.pbtxt":
            classifier_gpu_onnx_config(image_size, parameters, version),
    }
    for path, text in files.items():
        if path.suffix == ".pbtxt":
            parse_config(text)  # each parses back, its header too, before any is written
    (repository / ENSEMBLE / "1").mkdir(parents=True, exist_ok=True)  # Triton needs a version folder, even empty
    copy_python_model(PREPROCESS_SOURCE, repository / PREPROCESS / "1", with_runner=False)
    for path, text in files.items():
        if write_atomically(path, text.encode()):
            crash_point(path)


def crash_point(changed: Path) -> None:
    """Ends the process at once, as a crash or a kill would (no clean-up, no lock release
    but the kernel's), after the Nth change to a served repository when CRASH_AT_ENVIRONMENT
    says N: how the tests kill an export at each of its steps."""
    count = next(_changes_made)
    if os.environ.get(CRASH_AT_ENVIRONMENT) == str(count):
        log.warning("%s=%d: ending the process after writing %s", CRASH_AT_ENVIRONMENT, count, changed)
        logging.shutdown()
        os._exit(CRASH_EXIT_CODE)


def copy_atomically(source: str | Path, destination: str | Path) -> None:
    write_atomically(Path(destination), Path(source).read_bytes())


def copy_python_model(source: Path, version_dir: Path, with_runner: bool) -> None:
    """A python model's model.py and the project modules it imports, into a version folder."""
    version_dir.mkdir(parents=True, exist_ok=True)
    if source.resolve() != (version_dir / "model.py").resolve():
        copy_atomically(source, version_dir / "model.py")
    for package in (CONTRACT_SOURCE, RUNNER_SOURCE) if with_runner else (CONTRACT_SOURCE,):
        shutil.copytree(package, version_dir / package.name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"), copy_function=copy_atomically)
