"""The Flax VGG16: shapes, the class-activation map identity, which parameters train."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from train_jax.errors import UserError
from train_jax.model.architecture import check_image_size
from train_jax.model.vgg16 import VGG16, ModelConfig, trainable_filter


@pytest.fixture(scope="module")
def model():
    model = VGG16(ModelConfig(image_size=64, width=0.125), rngs=nnx.Rngs(0))
    model.eval()
    return model


def test_shapes(model):
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    features = model.trunk(model.preprocess(images))
    assert features.shape == (3, 2, 2, 64)
    assert model(images).shape == (3, 2)


def test_class_activation_map_explains_the_logit_difference(model):
    """Global average pooling then a linear layer: the CAM's mean plus the bias gap is
    exactly logit(cataract) - logit(normal), so the heatmap is faithful to the decision."""
    images = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    features = model.trunk(model.preprocess(images))
    logits = np.asarray(model.classify(features))
    cam = np.asarray(model.class_activation_map(features))
    bias = np.asarray(model.head.bias[...])
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias[0] - bias[1], logits[:, 0] - logits[:, 1], rtol=1e-4, atol=1e-5)


def test_eval_mode_is_deterministic_and_train_mode_drops_out(model):
    images = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(model(images)), np.asarray(model(images)))
    model.train()
    try:
        first = np.asarray(model(images, rngs=nnx.Rngs(dropout=1)))
        second = np.asarray(model(images, rngs=nnx.Rngs(dropout=2)))
    finally:
        model.eval()
    assert not np.allclose(first, second)


@pytest.mark.parametrize("size", [0, 31, 50, 100])
def test_sizes_that_do_not_survive_five_poolings_are_refused(size):
    with pytest.raises(UserError, match="multiple of 32"):
        check_image_size(size)


def test_trainable_filter_selects_the_last_blocks_and_the_head(model):
    def trained_paths(first_block):
        state = nnx.state(model, trainable_filter(first_block))
        paths = [path for path, _ in jax.tree_util.tree_leaves_with_path(state.to_pure_dict())]
        return {"/".join(str(getattr(key, "key", key)) for key in path[:2]) for path in paths}

    assert trained_paths(5) == {"head/kernel", "head/bias"}
    assert trained_paths(4) == {"head/kernel", "head/bias", "blocks/4"}
    assert {p for p in trained_paths(0) if p.startswith("blocks")} == {f"blocks/{i}" for i in range(5)}
