"""The ONNX twin of the exported SavedModel, for Triton releases without a TensorFlow
backend (after 25.02): their onnxruntime backend serves it, with TensorRT in FP16.

The SavedModel stays the source of truth: the twin is converted from it (tf2onnx, from the
frozen serving graph) and must answer what it answers, checked with onnxruntime on the
CPU, to the tolerance of every parity check in export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cataract_contract import CLASSIFIER_OUTPUTS, INPUT_IMAGE, INPUT_PHOTO_SIZE, SAVEDMODEL_SIGNATURE

# Opset 17 converts every op of the graph (tf2onnx 1.17 goes up to 18) and runs on the
# onnxruntime of every Triton release since 23.x.
OPSET = 17
ONNX_FILE = "model.onnx"  # <model>/<version>/model.onnx, the onnxruntime backend's default name


def convert(savedmodel: Path, destination: Path) -> None:
    """Write the SavedModel's serving graph as an ONNX model, keeping its tensor names
    (inputs image and, with the gate, photo_size; its outputs in the contract's order),
    dtypes and dynamic batch."""
    import tensorflow as tf
    import tf2onnx

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(savedmodel)).signature_def[SAVEDMODEL_SIGNATURE]
        graph_def = session.graph.as_graph_def()
    inputs = [name for name in (INPUT_IMAGE, INPUT_PHOTO_SIZE) if name in signature.inputs]
    outputs = [name for name in CLASSIFIER_OUTPUTS if name in signature.outputs]
    names = {signature.inputs[name].name: name for name in inputs}
    names.update({signature.outputs[name].name: name for name in outputs})
    tf2onnx.convert.from_graph_def(
        graph_def, input_names=[signature.inputs[name].name for name in inputs],
        output_names=[signature.outputs[name].name for name in outputs],
        opset=OPSET, tensors_to_rename=names, output_path=str(destination),
    )


def run(path: Path, images: np.ndarray, batch_size: int = 16, photo_size: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The twin's answers (every output it has) from onnxruntime on the CPU, `batch_size`
    images per call; photo_size as the SavedModel takes it (None: zeros, not known)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outputs = [output.name for output in session.get_outputs()]
    gated = INPUT_PHOTO_SIZE in {tensor.name for tensor in session.get_inputs()}
    if gated and photo_size is None:
        photo_size = np.zeros((len(images), 2), np.int32)
    chunks = []
    for start in range(0, len(images), batch_size):
        feeds = {INPUT_IMAGE: images[start : start + batch_size]}
        if gated:
            feeds[INPUT_PHOTO_SIZE] = np.asarray(photo_size[start : start + batch_size], np.int32)
        chunks.append(session.run(outputs, feeds))
    return {name: np.concatenate([chunk[index] for chunk in chunks]) for index, name in enumerate(outputs)}
