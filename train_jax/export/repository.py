"""The Triton model repository: every config.pbtxt is rendered here, in one place.

    <repository>/
      cataract_vgg16/            the classifier
        config.pbtxt             embedded flavour: python backend running the SavedModel with TF
        configs/gpu_onnx.pbtxt   GPU flavour, Triton >= 25.03: the ONNX twin on onnxruntime
                                 with TensorRT FP16 (`--model-config-name=gpu_onnx`)
        configs/gpu_tensorflow.pbtxt  GPU flavour, Triton <= 25.02: the SavedModel with TF-TRT
                                 FP16 (`--model-config-name=gpu_tensorflow`)
        labels.txt               cataract, normal (the output order)
        model.py                 python-backend source, copied into each version
        <N>/model.savedmodel     exported versions; the newest is served
        <N>/model.onnx           the ONNX twin of the SavedModel
        <N>/model.py, <N>/model_card.json, and the code model.py imports:
        <N>/savedmodel_runner/, <N>/cataract_contract/
      preprocess/                python: encoded JPEG/PNG bytes -> uint8 image, with
        1/cataract_contract/     the shared contract, so the repository is self-contained
      cataract/                  ensemble: bytes -> preprocess -> cataract_vgg16

The python models' sources live in the project's own model_repository/ folder; export
copies them, with the modules they import, into the repository it writes. Every file is
written beside its place and renamed over it, so a server (or a person) reading the
repository meanwhile sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cataract_contract
from cataract_contract import (
    CLASS_NAMES,
    CLASSIFIER,
    ENSEMBLE,
    HEATMAP_REDUCTION,
    INPUT_IMAGE,
    INPUT_IMAGE_BYTES,
    LABELS_FILE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    PREPROCESS,
    SAVEDMODEL_DIR,
)
import savedmodel_runner
from train_jax.export.onnx_twin import ONNX_FILE
from train_jax.errors import UserError
from train_jax.files import write_atomically

GPU_TENSORFLOW_CONFIG = "gpu_tensorflow"  # Triton <= 25.02: configs/gpu_tensorflow.pbtxt
GPU_ONNX_CONFIG = "gpu_onnx"  # Triton >= 25.03: configs/gpu_onnx.pbtxt
TRT_WORKSPACE_BYTES = 1 << 30

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT_REPOSITORY = PROJECT_ROOT / "model_repository"
CLASSIFIER_SOURCE = PROJECT_REPOSITORY / CLASSIFIER / "model.py"
PREPROCESS_SOURCE = PROJECT_REPOSITORY / PREPROCESS / "1" / "model.py"
# What the python models import: the stub's sys.path holds the version folder (and
# ignores PYTHONPATH), so these travel with the repository, into the container too.
CONTRACT_SOURCE = Path(cataract_contract.__file__).parent  # a package of one module
RUNNER_SOURCE = Path(savedmodel_runner.__file__).parent  # a package of one module, too

# On CPU a batch brings ~10% (measured, see the generated config's comment); on a GPU
# batches are the main lever, so it takes up to 32.
CPU_MAX_BATCH = 16
GPU_MAX_BATCH = 32
QUEUE_DELAY_MICROSECONDS = 2000
# Requests that may wait for an instance; one more is refused at once as busy. Two full
# batches on a CPU (at ~13 photos/s for the 224 model, a wait of ~2.5 s for single
# photos), four on a GPU. The bound counts requests, not photos, and a request of the
# client's tensor transport carries up to 8: a request still waiting after
# QUEUE_TIMEOUT_SECONDS is refused as busy too, which bounds the wait whatever it carries.
CPU_MAX_QUEUE = 2 * CPU_MAX_BATCH
GPU_MAX_QUEUE = 4 * GPU_MAX_BATCH
QUEUE_TIMEOUT_SECONDS = 10
ENSEMBLE_MAX_BATCH = 1

def config_parameters_text(parameters: dict[str, str]) -> str:
    """Config parameters as the body of a `parameters [ ... ]` block."""
    def escape(value: str) -> str:
        return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")

    return ",\n".join(
        f'  {{ key: "{escape(key)}" value: {{ string_value: "{escape(value)}" }} }}' for key, value in sorted(parameters.items())
    )


def dynamic_batching(max_queue_size: int, delay_microseconds: int = QUEUE_DELAY_MICROSECONDS,
                     queue_timeout_seconds: float = QUEUE_TIMEOUT_SECONDS) -> str:
    """Dynamic batching with a bounded queue: under overload, a request that finds
    `max_queue_size` others waiting is refused at once ("Exceeds maximum queue size"),
    and one that waited `queue_timeout_seconds` is refused then ("Request timeout
    expired"); the client reports both as ServerBusyError. Nothing waits without limit."""
    return f"""dynamic_batching {{
  max_queue_delay_microseconds: {delay_microseconds}
  default_queue_policy {{
    max_queue_size: {max_queue_size}
    timeout_action: REJECT
    default_timeout_microseconds: {round(queue_timeout_seconds * 1e6)}
  }}
}}"""


# Both GPU flavours batch and place instances alike; the reasons travel in the config.
_GPU_INSTANCE_AND_BATCHING = f"""# One instance per GPU. Each instance of this backend builds its own session and TensorRT
# engines (neither backend shares them between instances in any release), so a second one
# would double the GPU memory and the engine builds for little: a single batch of
# {GPU_MAX_BATCH} already keeps the GPU busy (`cataract bench infer` on an H200: 10,376
# photos/s at batch 8, 18,049 at 64), and the dynamic batcher forms the next batch while
# this one runs.
instance_group [ {{ kind: KIND_GPU count: 1 }} ]
# No preferred batch sizes: Triton's batcher guide advises them only where one size is much
# faster than the others (TensorRT optimisation profiles); it then sends the largest batch
# available, up to max_batch_size, without waiting longer than this delay.
{dynamic_batching(GPU_MAX_QUEUE)}"""


def version_policy(pinned_version: int | None) -> str:
    """The newest version is served; `cataract rollback` pins an earlier one."""
    if pinned_version is None:
        return "# The newest version is served: a new export is picked up by a polling server.\nversion_policy: { latest: { num_versions: 1 } }"
    return (f"# Pinned to version {pinned_version} by `cataract rollback`; the next export, or `cataract rollback --latest`, "
            f"serves the newest again.\nversion_policy: {{ specific: {{ versions: [ {pinned_version} ] }} }}")


def _classifier_io(image_size: int, input_format: bool = True) -> str:
    side = image_size // HEATMAP_REDUCTION
    fmt = "format: FORMAT_NHWC " if input_format else ""
    return f"""input [
  # Raw RGB pixels; the VGG normalisation is inside the model, so no client can get it wrong.
  {{ name: "{INPUT_IMAGE}" data_type: TYPE_UINT8 {fmt}dims: [ {image_size}, {image_size}, 3 ] }}
]
output [
  # P(cataract), P(normal): the order of labels.txt, which also serves the classification extension.
  {{ name: "{OUTPUT_PROBABILITIES}" data_type: TYPE_FP32 dims: [ {len(CLASS_NAMES)} ] label_filename: "{LABELS_FILE}" }},
  # Class-activation map: per-position evidence for cataract over normal ({side}x{side} for {image_size}x{image_size} input).
  {{ name: "{OUTPUT_HEATMAP}" data_type: TYPE_FP32 dims: [ {side}, {side} ] }}
]"""


def _warmup(image_size: int, batch_sizes: tuple[int, ...]) -> str:
    entries = ",\n".join(
        f"""  {{ name: "zeros_batch_{size}" batch_size: {size}
    inputs {{ key: "{INPUT_IMAGE}" value: {{ data_type: TYPE_UINT8 dims: [ {image_size}, {image_size}, 3 ] zero_data: true }} }} }}"""
        for size in batch_sizes
    )
    return f"""# Runs before the model is marked ready, so the first user request is not the slow one.
model_warmup [
{entries}
]"""


def classifier_config(image_size: int, parameters: dict[str, str], pinned_version: int | None = None) -> str:
    """Embedded flavour: python backend, TensorFlow on the CPU, one TF call per batch."""
    return f"""# {CLASSIFIER}: cataract classifier (VGG16 fine-tuned in JAX), embedded flavour.
# Generated by `cataract export`; re-export rather than edit. The python backend's model.py
# loads <version>/{SAVEDMODEL_DIR} with TensorFlow and runs each dynamic batch as ONE call.
name: "{CLASSIFIER}"
backend: "python"
max_batch_size: {CPU_MAX_BATCH}
{version_policy(pinned_version)}
{_classifier_io(image_size)}
# One instance: TensorFlow already spreads one call over every core; a second instance
# would only make two calls fight for them.
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
# Measured with `cataract bench serve` (224x224 VGG16, 2-core AMD EPYC with AVX512_BF16):
# TensorFlow alone runs 12.1 photos/s one at a time and 13.4 in batches of 8 in bfloat16
# (float32: 6.8 and 7.1), so a batch gains ~10% on CPU. While the instance is busy,
# requests queue and leave as one batch; 2 ms lets requests arriving together join
# without adding latency at low load. 16 = the highest concurrency measured (Triton then
# matched in-process throughput) and bounds the memory of one TF call.
{dynamic_batching(CPU_MAX_QUEUE)}
{_warmup(image_size, (1,))}
parameters [
{config_parameters_text(parameters)}
]
"""


def classifier_gpu_tensorflow_config(image_size: int, parameters: dict[str, str], pinned_version: int | None = None) -> str:
    """GPU flavour for Triton 25.02 and earlier (the last with the TensorFlow backend): the
    frozen SavedModel, with TF-TRT building TensorRT FP16 engines of its convolutions."""
    return _gpu_classifier_config(
        image_size, parameters, pinned_version,
        about=f"""GPU flavour for Triton <= 25.02 (TensorFlow backend), selected with
# `tritonserver --model-config-name={GPU_TENSORFLOW_CONFIG}` (scripts/serve_gpu.sh --release 25.02).""",
        platform='platform: "tensorflow_savedmodel"',
        engines="""# TF-TRT: the backend rewrites the session's graph with the TensorRT optimizer, which puts
# the convolutions (at the graph's top level: the SavedModel is frozen) into FP16 engines,
# built on first use per batch shape; the warm-up below builds the common ones.""",
        accelerator_parameters={})


def classifier_gpu_onnx_config(image_size: int, parameters: dict[str, str], pinned_version: int | None = None) -> str:
    """GPU flavour for Triton 25.03 and later (no TensorFlow backend): the ONNX twin on the
    onnxruntime backend, with its TensorRT execution provider in FP16."""
    shapes = {name: f"{INPUT_IMAGE}:{batch}x{image_size}x{image_size}x3"
              for name, batch in (("min", 1), ("opt", GPU_MAX_BATCH), ("max", GPU_MAX_BATCH))}
    return _gpu_classifier_config(
        image_size, parameters, pinned_version,
        about=f"""GPU flavour for Triton >= 25.03 (onnxruntime backend, TensorRT FP16), selected
# with `tritonserver --model-config-name={GPU_ONNX_CONFIG}` (scripts/serve_gpu.sh, the default).
# Serves <version>/{ONNX_FILE}, converted from the SavedModel and checked against it by export.""",
        platform=f'platform: "onnxruntime_onnx"\ndefault_model_filename: "{ONNX_FILE}"',
        engines=f"""# TensorRT builds one FP16 engine for every batch from 1 to {GPU_MAX_BATCH} (one optimisation
# profile), cached in /trt_cache (a volume scripts/serve_gpu.sh mounts), so a restart reuses
# it instead of building again for minutes.""",
        accelerator_parameters={"trt_engine_cache_enable": "1", "trt_engine_cache_path": "/trt_cache",
                                "trt_profile_min_shapes": shapes["min"], "trt_profile_opt_shapes": shapes["opt"],
                                "trt_profile_max_shapes": shapes["max"]})


def _gpu_classifier_config(image_size: int, parameters: dict[str, str], pinned_version: int | None, *, about: str,
                           platform: str, engines: str, accelerator_parameters: dict[str, str]) -> str:
    accelerator = {"precision_mode": "FP16", "max_workspace_size_bytes": str(TRT_WORKSPACE_BYTES), **accelerator_parameters}
    accelerator_lines = "\n".join(f'    parameters {{ key: "{key}" value: "{value}" }}' for key, value in accelerator.items())
    return f"""# {CLASSIFIER}: {about}
# Generated by `cataract export`; re-export rather than edit.
name: "{CLASSIFIER}"
{platform}
max_batch_size: {GPU_MAX_BATCH}
{version_policy(pinned_version)}
{_classifier_io(image_size)}
{_GPU_INSTANCE_AND_BATCHING}
{engines}
optimization {{ execution_accelerators {{
  gpu_execution_accelerator : [ {{
    name : "tensorrt"
{accelerator_lines}
  }} ]
}} }}
{_warmup(image_size, (1, GPU_MAX_BATCH))}
parameters [
{config_parameters_text(parameters)}
]
"""


def preprocess_config(image_size: int) -> str:
    return f"""# {PREPROCESS}: encoded JPEG/PNG/... bytes -> the classifier's uint8 input, with the same
# decode (EXIF orientation, RGB) and resize as training (cataract_contract).
# Generated by `cataract export`.
name: "{PREPROCESS}"
backend: "python"
max_batch_size: {CPU_MAX_BATCH}
input [
  # One encoded photo per batch row; photos of different lengths batch together (ragged).
  {{ name: "{INPUT_IMAGE_BYTES}" data_type: TYPE_UINT8 dims: [ -1 ] allow_ragged_batch: true }}
]
output [
  {{ name: "{INPUT_IMAGE}" data_type: TYPE_UINT8 dims: [ {image_size}, {image_size}, 3 ] }}
]
# Decoding is light next to the network; two instances decode while the classifier runs.
instance_group [ {{ kind: KIND_CPU count: 2 }} ]
{dynamic_batching(CPU_MAX_QUEUE, delay_microseconds=0)}
parameters [
{config_parameters_text({"image_size": str(image_size)})}
]
"""


def ensemble_config(image_size: int) -> str:
    side = image_size // HEATMAP_REDUCTION
    return f"""# {ENSEMBLE}: photos in, answers out. Encoded bytes -> {PREPROCESS} -> {CLASSIFIER}.
# Generated by `cataract export`.
name: "{ENSEMBLE}"
platform: "ensemble"
# One photo per request: Triton holds a whole request before any model sees it, so this
# bounds a valid one to a single photo (the preprocess step still batches across requests).
max_batch_size: {ENSEMBLE_MAX_BATCH}
input [ {{ name: "{INPUT_IMAGE_BYTES}" data_type: TYPE_UINT8 dims: [ -1 ] }} ]
output [
  {{ name: "{OUTPUT_PROBABILITIES}" data_type: TYPE_FP32 dims: [ {len(CLASS_NAMES)} ] label_filename: "{LABELS_FILE}" }},
  {{ name: "{OUTPUT_HEATMAP}" data_type: TYPE_FP32 dims: [ {side}, {side} ] }}
]
ensemble_scheduling {{
  step [
    {{
      model_name: "{PREPROCESS}"
      model_version: -1
      input_map {{ key: "{INPUT_IMAGE_BYTES}" value: "{INPUT_IMAGE_BYTES}" }}
      output_map {{ key: "{INPUT_IMAGE}" value: "decoded_image" }}
    }},
    {{
      model_name: "{CLASSIFIER}"
      model_version: -1
      input_map {{ key: "{INPUT_IMAGE}" value: "decoded_image" }}
      output_map {{ key: "{OUTPUT_PROBABILITIES}" value: "{OUTPUT_PROBABILITIES}" }}
      output_map {{ key: "{OUTPUT_HEATMAP}" value: "{OUTPUT_HEATMAP}" }}
    }}
  ]
}}
"""


def parse_config(text: str):
    """Parse config.pbtxt text into Triton's ModelConfig protobuf (raises on any error)."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(text, model_config_pb2.ModelConfig())


def write_configs(repository: Path, image_size: int, parameters: dict[str, str], pinned_version: int | None = None) -> None:
    """Write every model's config, labels and python sources; validate each config.
    pinned_version: serve that classifier version instead of the newest."""
    for source in (CLASSIFIER_SOURCE, PREPROCESS_SOURCE):
        if not source.is_file():
            raise UserError(f"{source} is missing: export needs the project checkout's model_repository/")
    files = {
        repository / CLASSIFIER / "config.pbtxt": classifier_config(image_size, parameters, pinned_version),
        repository / CLASSIFIER / "configs" / f"{GPU_TENSORFLOW_CONFIG}.pbtxt":
            classifier_gpu_tensorflow_config(image_size, parameters, pinned_version),
        repository / CLASSIFIER / "configs" / f"{GPU_ONNX_CONFIG}.pbtxt":
            classifier_gpu_onnx_config(image_size, parameters, pinned_version),
        repository / PREPROCESS / "config.pbtxt": preprocess_config(image_size),
        repository / ENSEMBLE / "config.pbtxt": ensemble_config(image_size),
    }
    labels = "".join(name + "\n" for name in CLASS_NAMES)
    for text in files.values():
        parse_config(text)  # all of them before any is written
    for path, text in files.items():
        write_atomically(path, text.encode())
    for model in (CLASSIFIER, ENSEMBLE):
        write_atomically(repository / model / LABELS_FILE, labels.encode())
    (repository / ENSEMBLE / "1").mkdir(exist_ok=True)  # Triton needs a version folder, even empty
    copy_python_model(PREPROCESS_SOURCE, repository / PREPROCESS / "1", with_runner=False)


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
