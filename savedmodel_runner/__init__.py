"""The classifier's SavedModel run by TensorFlow: the one loader, with its precision option.

Used by the classifier's Triton python model (`cataract export` copies this file and
the cataract_contract package beside its model.py), by export's checks, by the serving benchmark
and by the reference server, so every one of them runs the model the same way.

Precision "bfloat16" turns on TensorFlow's oneDNN auto-mixed-precision, which pays on
CPUs with AVX512_BF16 or AMX. It is a process-wide graph-rewrite option, read whenever
TensorFlow optimises the graph for a new input shape (a first call at a new batch size),
so each call sets it to the classifier's precision and puts it back afterwards: classifiers
of both precisions, and any other TensorFlow work, can share a process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cataract_contract import (
    CLASSIFIER_OUTPUTS,
    INPUT_IMAGE,
    INPUT_PHOTO_SIZE,
    OUTPUT_GRADABLE,
    OUTPUT_PROBABILITIES,
    PRECISIONS,
    SAVEDMODEL_SIGNATURE,
)

BFLOAT16_OPTION = "auto_mixed_precision_onednn_bfloat16"


class SavedModelClassifier:
    """uint8 images (N, S, S, 3) -> {"probabilities": (N, 2), "heatmap": (N, S/32, S/32)},
    and, from a SavedModel with the gradability gate (`gated`), "gradable" bool (N, 1) and
    "ungradable_reason" int32 (N, 1). `outputs` names what this SavedModel has, in the
    contract's order: a version exported before the gate has only the first two."""

    def __init__(self, path: str | Path, precision: str = "float32"):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        import tensorflow as tf

        self._tf = tf
        self.precision = precision
        self._signature = tf.saved_model.load(str(path)).signatures[SAVEDMODEL_SIGNATURE]
        inputs = self._signature.structured_input_signature[1]
        self.image_size = int(inputs[INPUT_IMAGE].shape[1])
        self.outputs = tuple(name for name in CLASSIFIER_OUTPUTS if name in self._signature.structured_outputs)
        self.gated = OUTPUT_GRADABLE in self.outputs
        if self.gated != (INPUT_PHOTO_SIZE in inputs):
            raise ValueError(f"{path}: a SavedModel with the gradability gate takes {INPUT_PHOTO_SIZE}, one without it does not")

    def __call__(self, images: np.ndarray, photo_size: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """One TensorFlow call for the whole batch. photo_size (N, 2): the photos' decoded
        height and width; None: not known (zeros, the size is not checked). A SavedModel
        without the gate takes none and checks nothing."""
        arguments = {INPUT_IMAGE: self._tf.constant(images)}
        if self.gated:
            sizes = np.zeros((len(images), 2), np.int32) if photo_size is None else np.asarray(photo_size, np.int32)
            arguments[INPUT_PHOTO_SIZE] = self._tf.constant(sizes.reshape(len(images), 2))
        optimizer = self._tf.config.optimizer
        previous = optimizer.get_experimental_options().get(BFLOAT16_OPTION, False)
        optimizer.set_experimental_options({BFLOAT16_OPTION: self.precision == "bfloat16"})
        try:
            result = self._signature(**arguments)
            outputs = {name: result[name].numpy() for name in self.outputs}
        finally:
            optimizer.set_experimental_options({BFLOAT16_OPTION: previous})
        for name, values in outputs.items():
            if values.dtype.kind == "f":
                outputs[name] = values.astype(np.float32)
        if self.precision == "bfloat16":
            # bfloat16 rounds each probability to 8 bits, so a pair can sum to 1 +- 4e-3:
            # renormalise so that every caller gets a probability distribution.
            probabilities = outputs[OUTPUT_PROBABILITIES]
            outputs[OUTPUT_PROBABILITIES] = probabilities / probabilities.sum(axis=1, keepdims=True)
        return outputs

    def run_batches(self, images: np.ndarray, batch_size: int = 16, photo_size: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Any number of images, `batch_size` per call."""
        chunks = [self(images[start : start + batch_size], None if photo_size is None else photo_size[start : start + batch_size])
                  for start in range(0, len(images), batch_size)]
        return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in self.outputs}
