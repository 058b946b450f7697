"""What Triton's TensorFlow backend (the 25.02 container) makes of an exported SavedModel,
reproduced with TensorFlow on any CPU.

The backend loads the SavedModel into a TensorFlow 1 session over its `serve` tag and,
when `gpu_execution_accelerator: tensorrt` is configured, rewrites the graph with only
these grappler passes: constfold, layout, constfold, then the TensorRT optimizer
(`NewSessionOptions` in triton-inference-server/tensorflow_backend; no function inlining,
so TensorRT sees only the top level of the graph). This module loads the model the same
way with the same rewriter configuration, runs it, and returns the answers and the ops
the session executed at the top level: the convolutions TF-TRT can put into engines.
(The CPU build of TensorFlow has no TensorRT, so the TensorRT optimizer itself is the one
step left out; which ops it would see is what this shows.)
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from cataract_contract import INPUT_IMAGE, INPUT_PHOTO_SIZE, SAVEDMODEL_SIGNATURE

# The ops TF-TRT converts that carry VGG16's arithmetic, as the CPU build names them after
# its own (oneDNN) rewrites: Conv2D, _MklNativeConv2DWithBias, _FusedConv2D, ...
CONVOLUTION_MARK = "Conv2D"


def tf_trt_rewriter():
    """The RewriterConfig Triton's TensorFlow backend sets when TF-TRT is configured."""
    from tensorflow.core.protobuf import rewriter_config_pb2

    config = rewriter_config_pb2.RewriterConfig()
    config.meta_optimizer_iterations = rewriter_config_pb2.RewriterConfig.ONE
    config.optimizers.extend(["constfold", "layout", "constfold"])
    config.custom_optimizers.add().name = "constfold"
    return config


def run_as_the_backend(path: Path, images: np.ndarray) -> tuple[dict[str, np.ndarray], collections.Counter]:
    """Load `path` as the TensorFlow backend does with TF-TRT on, run `images` through the
    serving signature by its tensor names (with photo_size 0, 0, not known, where the model
    takes it), and count the op types of the executed graph."""
    import tensorflow as tf

    session_config = tf.compat.v1.ConfigProto()
    session_config.graph_options.rewrite_options.CopyFrom(tf_trt_rewriter())
    with tf.compat.v1.Session(graph=tf.Graph(), config=session_config) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
        signature = meta_graph.signature_def[SAVEDMODEL_SIGNATURE]
        metadata = tf.compat.v1.RunMetadata()
        feeds = {signature.inputs[INPUT_IMAGE].name: images}
        if INPUT_PHOTO_SIZE in signature.inputs:
            feeds[signature.inputs[INPUT_PHOTO_SIZE].name] = np.zeros((len(images), 2), np.int32)
        outputs = session.run(
            {key: tensor.name for key, tensor in signature.outputs.items()},
            feeds,
            options=tf.compat.v1.RunOptions(output_partition_graphs=True),
            run_metadata=metadata,
        )
    executed = collections.Counter(node.op for graph in metadata.partition_graphs for node in graph.node)
    return outputs, executed


def convolutions_visible(executed: collections.Counter) -> int:
    return sum(count for op, count in executed.items() if CONVOLUTION_MARK in op)
