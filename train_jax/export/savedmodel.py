"""The fine-tuned Flax VGG16 as a plain TensorFlow graph (Conv2D, BiasAdd, Relu, MaxPool,
Mean, MatMul, Softmax), saved as a frozen SavedModel.

jax2tf would emit XlaCallModule ops, which Triton 25.02's TensorFlow 2.17 may not run and
TF-TRT cannot convert; rebuilding the same arithmetic from standard ops keeps the model
servable everywhere. A parity check against the Flax model guards the translation.

The SavedModel is frozen (weights as constants) and written in TensorFlow 1's layout, so
its serving graph holds the convolutions at its top level. `tf.saved_model.save` would put
them inside a function behind a StatefulPartitionedCall, and Triton's TensorFlow backend,
which loads the graph into a session and rewrites it with only constfold, layout and the
TensorRT optimizer when TF-TRT is on, would hand TensorRT nothing but that call
(tf_backend.py reproduces that load on any CPU). TensorFlow 2 loads the same SavedModel as
usual: `tf.saved_model.load(path).signatures["serving_default"]`.

Signature `serving_default`:
    image          uint8 [batch, size, size, 3], raw RGB (the VGG normalisation is inside)
    -> probabilities float32 [batch, 2]   (cataract, normal) at the operating point: the
                     logits carry operating_point_offsets(threshold), so the decision is
                     the top class (cataract_contract, "the operating point")
    -> heatmap       float32 [batch, size/32, size/32]: class-activation map, the per-position
                     evidence for cataract over normal (its mean plus the bias gap is the
                     model's logit difference); positive values push towards "cataract".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cataract_contract import (
    CATARACT,
    INPUT_IMAGE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    SAVEDMODEL_SIGNATURE,
    operating_point_offsets,
)
from train_jax.model.architecture import POOLINGS
from train_jax.model.vgg16 import CAFFE_BGR_MEAN, TORCH_RGB_MEAN, TORCH_RGB_STD, VGG16


def flax_arrays(model: VGG16) -> dict[str, list[np.ndarray] | np.ndarray]:
    """The model's parameters as numpy arrays, in graph order."""
    kernels, biases = [], []
    for block in model.blocks:
        for conv in block:
            kernels.append(np.asarray(conv.kernel[...], np.float32))
            biases.append(np.asarray(conv.bias[...], np.float32))
    return {
        "kernels": kernels,
        "biases": biases,
        "head_kernel": np.asarray(model.head.kernel[...], np.float32),
        "head_bias": np.asarray(model.head.bias[...], np.float32),
    }


def build_module(model: VGG16, threshold: float = 0.5):
    """A tf.Module computing the same function as `model` in eval mode, its probabilities
    at the operating point of `threshold` (0.5: the model's own)."""
    import tensorflow as tf

    config = model.config
    arrays = flax_arrays(model)
    blocks = [len(block) for block in model.blocks]
    cataract, normal = CATARACT, 1 - CATARACT  # two classes

    class CataractClassifier(tf.Module):
        def __init__(self):
            super().__init__(name="cataract_vgg16")
            self.kernels = [tf.Variable(k, trainable=False, name=f"conv{i}_kernel") for i, k in enumerate(arrays["kernels"])]
            self.biases = [tf.Variable(b, trainable=False, name=f"conv{i}_bias") for i, b in enumerate(arrays["biases"])]
            self.head_kernel = tf.Variable(arrays["head_kernel"], trainable=False, name="head_kernel")
            self.head_bias = tf.Variable(arrays["head_bias"], trainable=False, name="head_bias")
            self.operating_point = tf.constant(operating_point_offsets(threshold), name="operating_point")

        def _normalise(self, image):
            pixels = tf.cast(image, tf.float32)
            if config.preprocessing == "torch":
                return (pixels / 255.0 - tf.constant(TORCH_RGB_MEAN)) / tf.constant(TORCH_RGB_STD)
            return tf.reverse(pixels, axis=[-1]) - tf.constant(CAFFE_BGR_MEAN)

        @tf.function(input_signature=[tf.TensorSpec([None, config.image_size, config.image_size, 3], tf.uint8, name=INPUT_IMAGE)])
        def serve(self, image):
            x = self._normalise(image)
            index = 0
            for conv_count in blocks:
                for _ in range(conv_count):
                    x = tf.nn.conv2d(x, self.kernels[index], strides=1, padding="SAME")
                    x = tf.nn.relu(tf.nn.bias_add(x, self.biases[index]))
                    index += 1
                x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
            logits = tf.matmul(tf.reduce_mean(x, axis=[1, 2]), self.head_kernel) + self.head_bias + self.operating_point
            direction = self.head_kernel[:, cataract : cataract + 1] - self.head_kernel[:, normal : normal + 1]
            side = config.image_size // 2**POOLINGS
            heatmap = tf.reshape(tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), direction), [-1, side, side])
            return {OUTPUT_PROBABILITIES: tf.nn.softmax(logits), OUTPUT_HEATMAP: heatmap}

    return CataractClassifier()


def save(model: VGG16, path: Path, threshold: float = 0.5) -> None:
    """Write `model` as a frozen SavedModel: one plain serving graph, weights as constants,
    its probabilities at the operating point of `threshold` (0.5: the model's own)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    module = build_module(model, threshold)  # held: the traced method refers to it weakly
    serve = module.serve.get_concrete_function()
    frozen = convert_variables_to_constants_v2(serve)  # inlines the function, variables become constants
    # The frozen function's outputs come in tf.nest order: the output dict's keys sorted.
    output_names = dict(zip(sorted(serve.structured_outputs), (tensor.name for tensor in frozen.outputs)))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen.graph.as_graph_def(), name="")
        tensor_info = tf.compat.v1.saved_model.utils.build_tensor_info
        outputs = {key: tf.identity(graph.get_tensor_by_name(name), name=key) for key, name in output_names.items()}
        signature = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={INPUT_IMAGE: tensor_info(graph.get_tensor_by_name(frozen.inputs[0].name))},
            outputs={key: tensor_info(tensor) for key, tensor in outputs.items()},
            method_name=tf.compat.v1.saved_model.signature_constants.PREDICT_METHOD_NAME,
        )
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(session, [tf.compat.v1.saved_model.tag_constants.SERVING],
                                                 signature_def_map={SAVEDMODEL_SIGNATURE: signature}, strip_default_attrs=True)
            builder.save()


def graph_op_types(path: Path, top_level_only: bool = False) -> set[str]:
    """Every op type in the SavedModel's graphs: functions included, or only the ops at the
    graph's top level (what a session-level graph rewrite sees)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((path / "saved_model.pb").read_bytes())
    types: set[str] = set()
    for graph in (meta.graph_def for meta in saved.meta_graphs):
        types.update(node.op for node in graph.node)
        if not top_level_only:
            for function in graph.library.function:
                types.update(node.op for node in function.node_def)
    return types
