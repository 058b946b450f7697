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


@pytest.mark.parametrize("head_blocks", [1, 2, 3])
def test_class_activation_map_explains_the_logit_difference(head_blocks):
    """Global average pooling then a linear layer: the CAM's mean plus the bias gap is
    exactly logit(cataract) - logit(normal), so the heatmap is faithful to the decision,
    also when the head reads earlier blocks (their maps averaged down to the last grid)."""
    model = VGG16(ModelConfig(image_size=64, width=0.125, head_blocks=head_blocks), rngs=nnx.Rngs(0))
    model.eval()
    images = np.random.default_rng(1).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    logits, head_maps = model.forward(images)
    assert [m.shape[1] for m in head_maps] == [2 * 2 ** (head_blocks - 1 - i) for i in range(head_blocks)]
    cam = np.asarray(model.class_activation_map(head_maps))
    assert cam.shape == (4, 2, 2)
    bias = np.asarray(model.head.bias[...])
    np.testing.assert_allclose(cam.mean(axis=(1, 2)) + bias[0] - bias[1], np.asarray(logits[:, 0] - logits[:, 1]),
                               rtol=1e-4, atol=1e-5)


def test_a_two_block_head_reads_both_blocks_and_the_cached_inputs_give_the_same_logits():
    """The dense layer is as wide as blocks 4 and 5 together, and the trainer's cached
    activations entering block 5 (block 4's output) give the full pass's logits; a cache
    that starts after the first head block is refused."""
    model = VGG16(ModelConfig(image_size=64, width=0.125, head_blocks=2), rngs=nnx.Rngs(0))
    model.eval()
    assert model.head.kernel.shape == (64 + 64, 2)
    images = np.random.default_rng(3).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    entering_block_5 = model.activations(images, 0, 4)
    np.testing.assert_allclose(np.asarray(model.forward(entering_block_5, from_block=4)[0]), np.asarray(model(images)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no output of head block"):
        model.forward(model.activations(images, 0, 5), from_block=5)


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
