"""The ONNX twin of the exported SavedModel, for Triton releases without a TensorFlow
backend (after 25.02): their onnxruntime backend serves it, with TensorRT in FP16.

The SavedModel stays the source of truth: the twin is converted from it (tf2onnx, from the
frozen serving graph) and must answer what it answers, checked with onnxruntime on the
CPU, to the tolerance of every parity check in export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cataract_contract import INPUT_IMAGE, OUTPUT_HEATMAP, OUTPUT_PROBABILITIES, SAVEDMODEL_SIGNATURE

# Opset 17 converts every op of the graph (tf2onnx 1.17 goes up to 18) and runs on the
# onnxruntime of every Triton release since 23.x.
OPSET = 17
ONNX_FILE = "model.onnx"  # <model>/<version>/model.onnx, the onnxruntime backend's default name


def convert(savedmodel: Path, destination: Path) -> None:
    """Write the SavedModel's serving graph as an ONNX model, keeping its tensor names,
    dtypes and dynamic batch."""
    import tensorflow as tf
    import tf2onnx

    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(savedmodel)).signature_def[SAVEDMODEL_SIGNATURE]
        graph_def = session.graph.as_graph_def()
    names = {signature.inputs[INPUT_IMAGE].name: INPUT_IMAGE}
    names.update({tensor.name: key for key, tensor in signature.outputs.items()})
    tf2onnx.convert.from_graph_def(
        graph_def, input_names=[signature.inputs[INPUT_IMAGE].name],
        output_names=[signature.outputs[key].name for key in (OUTPUT_PROBABILITIES, OUTPUT_HEATMAP)],
        opset=OPSET, tensors_to_rename=names, output_path=str(destination),
    )


def run(path: Path, images: np.ndarray, batch_size: int = 16) -> dict[str, np.ndarray]:
    """The twin's answers from onnxruntime on the CPU, `batch_size` images per call."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    chunks = [session.run([OUTPUT_PROBABILITIES, OUTPUT_HEATMAP], {INPUT_IMAGE: images[start : start + batch_size]})
              for start in range(0, len(images), batch_size)]
    return {OUTPUT_PROBABILITIES: np.concatenate([p for p, _ in chunks]), OUTPUT_HEATMAP: np.concatenate([h for _, h in chunks])}
