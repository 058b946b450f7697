"""A test-only model repository whose classifier is slow on demand, served by a real Triton.

Timeouts, overload and "busy" refusals need a server that takes its time, which the
real classifier does not (the tiny model answers in milliseconds). This repository's
`cataract_vgg16` is a small python model with the real one's config (input, outputs,
labels, parameters): it sleeps FIRST_PIXEL / 50 seconds (an image whose first pixel is
100 takes 2 s, one starting with 0 answers at once), then answers P(cataract) = the
image's mean brightness. It needs numpy only, so it loads in a moment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from cataract_contract import (
    CLASSIFIER,
    DECISION_RULE,
    INPUT_IMAGE,
    LABELS_FILE,
    OUTPUT_PROBABILITIES,
    PARAMETER_CLASSES,
    PARAMETER_DECISION_RULE,
    PARAMETER_DECISION_THRESHOLD,
    PARAMETER_MODEL_VERSION,
    PARAMETER_POSITIVE_CLASS,
)
from train_jax.export import repository as repo

SIZE = 32
SECONDS_PER_LEVEL = 0.02

MODEL = f'''
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        images = [pb_utils.get_input_tensor_by_name(r, "{INPUT_IMAGE}").as_numpy() for r in requests]
        time.sleep(max(float(batch.flat[0]) for batch in images) * {SECONDS_PER_LEVEL})
        answers = []
        for batch in images:
            cataract = batch.reshape(len(batch), -1).mean(axis=1, dtype=np.float32) / 255
            probabilities = np.stack([cataract, 1 - cataract], axis=1).astype(np.float32)
            answers.append(pb_utils.InferenceResponse([pb_utils.Tensor("{OUTPUT_PROBABILITIES}", probabilities)]))
        return answers
'''


def slow_image(seconds: float, brightness: int = 100) -> np.ndarray:
    """An image the slow classifier takes `seconds` (up to 5.1) to answer."""
    image = np.full((SIZE, SIZE, 3), brightness, np.uint8)
    image.flat[0] = round(seconds / SECONDS_PER_LEVEL)
    return image


def write_slow_repository(folder: Path, instances: int = 3, queue_size: int | None = None,
                          queue_timeout_seconds: float = repo.CPU_QUEUE_TIMEOUT_SECONDS,
                          parameters: dict[str, str] | None = None) -> Path:
    """`queue_size` None: no dynamic batching, each request runs alone on a free instance
    (requests wait for one without limit). A number: the product's dynamic batching with
    its queue policy, that many requests at most waiting, none longer than the timeout."""
    model = folder / CLASSIFIER
    (model / "1").mkdir(parents=True)
    (model / "1" / "model.py").write_text(MODEL)
    (model / LABELS_FILE).write_text("cataract\nnormal\n")
    served = {PARAMETER_DECISION_THRESHOLD: "0.5", PARAMETER_DECISION_RULE: DECISION_RULE, PARAMETER_CLASSES: "cataract,normal",
              PARAMETER_POSITIVE_CLASS: "cataract", PARAMETER_MODEL_VERSION: "1", **(parameters or {})}
    config = mc.ModelConfig(
        name=CLASSIFIER, backend="python", max_batch_size=8,
        input=[mc.ModelInput(name=INPUT_IMAGE, data_type=mc.TYPE_UINT8, dims=[SIZE, SIZE, 3])],
        output=[output for output in repo.classifier_outputs(SIZE) if output.name == OUTPUT_PROBABILITIES],
        instance_group=[mc.ModelInstanceGroup(kind=mc.ModelInstanceGroup.KIND_CPU, count=instances)],
        parameters=repo.model_parameters(served))
    if queue_size is not None:
        config.dynamic_batching.CopyFrom(repo.dynamic_batching(queue_size, queue_timeout_seconds=queue_timeout_seconds))
    (model / "config.pbtxt").write_text(text_format.MessageToString(config))
    return folder
