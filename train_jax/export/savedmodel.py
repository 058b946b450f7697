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
    photo_size     int32 [batch, 2], the decoded photo's height and width before resizing
                   (0, 0: not known, the size is not checked); only with the gate
    -> probabilities float32 [batch, 2]   (cataract, normal) at the operating point: the
                     logits carry operating_point_offsets(threshold), so the decision is
                     the top class (cataract_contract, "the operating point")
    -> heatmap       float32 [batch, size/32, size/32]: class-activation map, the per-position
                     evidence for cataract over normal (its mean plus the bias gap is the
                     model's logit difference); positive values push towards "cataract".
                     A head that reads earlier blocks too (ModelConfig.head_blocks) adds
                     their evidence, each averaged down to this grid, so the identity holds.
    -> gradable      bool [batch, 1] and
    -> ungradable_reason int32 [batch, 1] (an UngradableReason, 0 = gradable): the
                     gradability gate of a GateSpec (train_jax/gradability/spec.py), its
                     measures and the order of its checks as cataract_contract defines them.
                     A model saved without a gate (gate=None) has neither output nor the
                     photo_size input: the interface of versions exported before the gate.

Under the embedded server's bfloat16 precision (oneDNN auto-mixed precision,
savedmodel_runner) the brightness, colourfulness, sharpness and colour distance stay float32 (no
convolution or MatMul feeds them: the Laplacian is a sum of slices), while the feature distance, fed by the
network's bfloat16 features and computed by a MatMul, runs in bfloat16. Measured on the
real-photo run's 74 validation photos (224 px, feature block 5): the distance moved by a
median 1.7% (95th percentile 10%), and every gate decision agreed with float32. The MatMul
is kept (an elementwise quadratic form would hold N x D x D floats): export's bfloat16
agreement check counts the gate's decisions, so "auto" serves float32 where they differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cataract_contract import (
    CATARACT,
    COLOURFULNESS_MEAN_WEIGHT,
    INPUT_IMAGE,
    INPUT_PHOTO_SIZE,
    LAPLACIAN_KERNEL,
    LUMA,
    OUTPUT_GRADABLE,
    OUTPUT_HEATMAP,
    OUTPUT_PROBABILITIES,
    OUTPUT_UNGRADABLE_REASON,
    SAVEDMODEL_SIGNATURE,
    first_failed,
    gate_checks,
    operating_point_offsets,
)
from train_jax.gradability.spec import COLOUR_BINS, COLOUR_FLOOR, LIT_SUM, GateSpec
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


def build_module(model: VGG16, threshold: float = 0.5, gate: GateSpec | None = None):
    """A tf.Module computing the same function as `model` in eval mode, its probabilities
    at the operating point of `threshold` (0.5: the model's own), with the gradability
    gate of `gate` (None: the interface of versions exported before the gate)."""
    import tensorflow as tf

    config = model.config
    arrays = flax_arrays(model)
    blocks = [len(block) for block in model.blocks]
    feature_blocks = () if gate is None else gate.feature_blocks
    head_blocks = config.head_block_indices()  # 0-based
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

        def classify(self, image):
            """The network's outputs, and the pooled features of the gate's blocks (by number)."""
            x = self._normalise(image)
            index, pooled, head_maps = 0, {}, []
            for number, conv_count in enumerate(blocks, start=1):
                for _ in range(conv_count):
                    x = tf.nn.conv2d(x, self.kernels[index], strides=1, padding="SAME")
                    x = tf.nn.relu(tf.nn.bias_add(x, self.biases[index]))
                    index += 1
                x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="VALID")
                if number in feature_blocks:
                    pooled[number] = tf.reduce_mean(x, axis=[1, 2])
                if number - 1 in head_blocks:
                    head_maps.append(x)
            head_inputs = tf.concat([tf.reduce_mean(m, axis=[1, 2]) for m in head_maps], axis=1)
            logits = tf.matmul(head_inputs, self.head_kernel) + self.head_bias + self.operating_point
            return {OUTPUT_PROBABILITIES: tf.nn.softmax(logits), OUTPUT_HEATMAP: self._heatmap(head_maps)}, pooled

        def _heatmap(self, head_maps):
            """VGG16.class_activation_map: each head block's evidence, averaged down to the last grid, summed."""
            direction = self.head_kernel[:, cataract : cataract + 1] - self.head_kernel[:, normal : normal + 1]
            side = config.image_size // 2**POOLINGS
            heatmap, offset = 0.0, 0
            for feature_map in head_maps:
                count, block_side = feature_map.shape[-1], feature_map.shape[1]
                step = block_side // side
                evidence = tf.matmul(tf.reshape(feature_map, [-1, count]), direction[offset : offset + count])
                if step == 1:  # the last block: the graph of a VGG16 head, as before head blocks existed
                    heatmap += tf.reshape(evidence, [-1, side, side])
                else:
                    heatmap += tf.reduce_mean(tf.reshape(evidence, [-1, side, step, side, step]), axis=[2, 4])
                offset += count
            return heatmap

    module = CataractClassifier()
    image_spec = tf.TensorSpec([None, config.image_size, config.image_size, 3], tf.uint8, name=INPUT_IMAGE)
    if gate is None:
        module.serve = tf.function(lambda image: module.classify(image)[0], input_signature=[image_spec])
        return module

    def serve(image, photo_size):
        outputs, pooled = module.classify(image)
        features = tf.concat([pooled[number] for number in gate.feature_blocks], axis=1)
        gradable, reason = gate_graph(gate, image, photo_size, features)
        return {**outputs, OUTPUT_GRADABLE: gradable[:, None], OUTPUT_UNGRADABLE_REASON: reason[:, None]}

    module.serve = tf.function(serve, input_signature=[image_spec, tf.TensorSpec([None, 2], tf.int32, name=INPUT_PHOTO_SIZE)])
    return module


def colour_histogram(image):
    """spec.py's chromaticity histogram (N, COLOUR_BINS ** 2) of uint8 images, binned and
    counted in integers as JAX bins them, so the counts are exact on every backend (a float
    count would round in TensorRT's FP16). One comparison per bin: a one-hot tensor would
    hold COLOUR_BINS ** 2 values per pixel, and a MatMul would count in bfloat16 under
    oneDNN's mixed precision."""
    import tensorflow as tf

    rgb = tf.cast(image, tf.int32)
    total = tf.reduce_sum(rgb, axis=-1)
    lit = total >= LIT_SUM
    bins = tf.minimum(COLOUR_BINS * rgb[..., :2] // tf.maximum(total, 1)[..., None], COLOUR_BINS - 1)
    index = tf.where(lit, bins[..., 0] * COLOUR_BINS + bins[..., 1], -1)
    counts = tf.stack([tf.reduce_sum(tf.cast(tf.equal(index, number), tf.int32), axis=[1, 2])
                       for number in range(COLOUR_BINS**2)], axis=1)
    lit_count = tf.reduce_sum(tf.cast(lit, tf.int32), axis=[1, 2])
    return tf.cast(counts, tf.float32) / tf.cast(tf.maximum(lit_count, 1), tf.float32)[:, None]


def colour_distance(gate: GateSpec, image):
    """spec.py's colour distance (N,), elementwise: 64 x 64 products a photo stay in float32,
    where a MatMul would run in bfloat16 under the embedded server's mixed precision."""
    import tensorflow as tf

    offsets = tf.math.log(colour_histogram(image) + COLOUR_FLOOR) - tf.constant(gate.colour_mean)
    return tf.reduce_sum(offsets[:, :, None] * tf.constant(gate.colour_precision)[None] * offsets[:, None, :], axis=[1, 2])


def gate_measures(gate: GateSpec, image, features):
    """The gate's measures in TensorFlow, as cataract_contract and spec.py define them: each
    (N,), by the names of GATE_MEASURES, of uint8 images and the pooled features of
    gate.feature_blocks (N, D); colour_distance zeros for a gate fitted before that check
    (which skips it)."""
    import tensorflow as tf

    rgb = tf.cast(image, tf.float32)
    luminance = tf.reduce_sum(rgb * tf.constant(LUMA, tf.float32), axis=-1)
    brightness = tf.reduce_mean(luminance, axis=[1, 2])
    rg, yb = rgb[..., 0] - rgb[..., 1], 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = tf.sqrt(tf.math.reduce_variance(rg, axis=[1, 2]) + tf.math.reduce_variance(yb, axis=[1, 2]))
    colourfulness = spread + COLOURFULNESS_MEAN_WEIGHT * tf.sqrt(tf.reduce_mean(rg, axis=[1, 2]) ** 2
                                                                 + tf.reduce_mean(yb, axis=[1, 2]) ** 2)
    # The kernel's valid positions as a sum of shifted slices: the same as a valid
    # convolution, which the oneDNN bfloat16 rewrite and TF-TRT would take for the network's.
    height, width = luminance.shape[1] - 2, luminance.shape[2] - 2
    laplacian = tf.add_n([weight * luminance[:, row : row + height, column : column + width]
                          for row, weights in enumerate(LAPLACIAN_KERNEL) for column, weight in enumerate(weights) if weight])
    ratio = (tf.math.reduce_variance(laplacian, axis=[1, 2]) + 1.0) / (tf.math.reduce_variance(luminance, axis=[1, 2]) + 1.0)
    sharpness = tf.math.log(ratio) / np.log(10.0).astype(np.float32)
    if gate.feature_floor is not None:  # gates fitted before the floor take the features unlogged
        features = tf.math.log(features + tf.constant(gate.feature_floor))
    standardised = (features - tf.constant(gate.feature_shift)) / tf.constant(gate.feature_scale)
    offsets = standardised[:, None, :] - tf.constant(gate.class_means)[None]  # (N, classes, D)
    flat = tf.reshape(offsets, [-1, gate.feature_count])
    squared = tf.reduce_sum(tf.matmul(flat, tf.constant(gate.precision)) * flat, axis=1)
    distance = tf.reduce_min(tf.reshape(squared, [-1, gate.class_means.shape[0]]), axis=1)
    colours = tf.zeros_like(brightness) if gate.colour_mean is None else colour_distance(gate, image)
    return {"brightness": brightness, "colourfulness": colourfulness, "sharpness": sharpness,
            "colour_distance": colours, "feature_distance": distance}


def gate_graph(gate: GateSpec, image, photo_size, features):
    """The gate's decision in TensorFlow: (gradable bool (N,), ungradable_reason int32 (N,)),
    from uint8 images, photo sizes (N, 2) and the pooled features of gate.feature_blocks,
    checked in the order of cataract_contract.gate_decision."""
    import tensorflow as tf

    shorter = tf.reduce_min(photo_size, axis=1)
    checks = gate_checks(shorter, gate_measures(gate, image, features), gate.limits)
    reason = first_failed(checks, tf.zeros_like(shorter), tf.where)
    return tf.equal(reason, 0), reason


def save(model: VGG16, path: Path, threshold: float = 0.5, gate: GateSpec | None = None) -> None:
    """Write `model` as a frozen SavedModel: one plain serving graph, weights as constants,
    its probabilities at the operating point of `threshold` (0.5: the model's own), with
    the gradability gate of `gate` (None: without it, as versions exported before it)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    module = build_module(model, threshold, gate)  # held: the traced method refers to it weakly
    serve = module.serve.get_concrete_function()
    frozen = convert_variables_to_constants_v2(serve)  # inlines the function, variables become constants
    # The frozen function's outputs come in tf.nest order: the output dict's keys sorted;
    # its inputs in the input signature's order.
    output_names = dict(zip(sorted(serve.structured_outputs), (tensor.name for tensor in frozen.outputs)))
    input_names = dict(zip((spec.name for spec in serve.structured_input_signature[0]), (t.name for t in frozen.inputs)))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(frozen.graph.as_graph_def(), name="")
        tensor_info = tf.compat.v1.saved_model.utils.build_tensor_info
        outputs = {key: tf.identity(graph.get_tensor_by_name(name), name=key) for key, name in output_names.items()}
        signature = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={key: tensor_info(graph.get_tensor_by_name(name)) for key, name in input_names.items()},
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
