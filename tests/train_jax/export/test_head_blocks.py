"""A head that reads blocks 4 and 5 (--head-blocks 2, the photos-cpu recipe's) in the
exported graph: the SavedModel and its ONNX twin give the Flax model's probabilities and
class-activation map, with plain ops only."""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx

import cataract_contract as contract
from savedmodel_runner import SavedModelClassifier
from train_jax.export import onnx_twin, savedmodel
from train_jax.export.export import FORBIDDEN_OPS
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training.predict import reference_outputs

SIZE = 64


@pytest.fixture(scope="module")
def two_block_head(tmp_path_factory):
    model = VGG16(ModelConfig(image_size=SIZE, width=0.125, dropout=0.0, preprocessing="torch", head_blocks=2), rngs=nnx.Rngs(5))
    model.eval()
    images = np.random.default_rng(1).integers(0, 256, (12, SIZE, SIZE, 3), dtype=np.uint8)
    # A random head scaled to give these images log-odds of spread 1 around 0, so both
    # blocks' weights matter and a graph that dropped or misplaced block 4 differs.
    pooled = np.asarray(model.pooled(model.head_maps(images)))
    direction = np.random.default_rng(0).normal(size=pooled.shape[1])
    direction /= (pooled @ direction).std()
    offset = -(pooled @ direction).mean()
    model.head.kernel[...] = np.stack([direction / 2, -direction / 2], axis=1).astype(np.float32)
    model.head.bias[...] = np.array([offset / 2, -offset / 2], np.float32)
    path = tmp_path_factory.mktemp("two-block-head") / contract.SAVEDMODEL_DIR
    savedmodel.save(model, path, threshold=0.5)
    return model, path, images


def test_the_savedmodel_gives_the_flax_probabilities_and_heatmap(two_block_head):
    model, path, images = two_block_head
    probabilities, heatmap = reference_outputs(model, images)
    served = SavedModelClassifier(path).run_batches(images, batch_size=4)
    assert served[contract.OUTPUT_HEATMAP].shape == (12, SIZE // 32, SIZE // 32)
    np.testing.assert_allclose(served[contract.OUTPUT_PROBABILITIES], probabilities, atol=1e-5)
    np.testing.assert_allclose(served[contract.OUTPUT_HEATMAP], heatmap, rtol=1e-4, atol=1e-4)
    assert probabilities[:, contract.CATARACT].std() > 0.1  # the images are told apart, not a constant


def test_the_onnx_twin_agrees_and_the_graph_keeps_to_plain_ops(two_block_head, tmp_path):
    _, path, images = two_block_head
    twin = tmp_path / onnx_twin.ONNX_FILE
    onnx_twin.convert(path, twin)
    served = SavedModelClassifier(path).run_batches(images)
    answered = onnx_twin.run(twin, images, batch_size=3)
    for name in (contract.OUTPUT_PROBABILITIES, contract.OUTPUT_HEATMAP):
        np.testing.assert_allclose(answered[name], served[name], rtol=1e-4, atol=1e-5)
    assert not savedmodel.graph_op_types(path) & FORBIDDEN_OPS
