"""VGG16 in Flax NNX with a transfer-learning head and a class-activation map.

The 13 convolutions of VGG16 (five blocks, each closed by 2x2 max pooling), then global
average pooling, dropout and one 2-way dense layer. Because the head is linear after the
pooling, the class-activation map (CAM) is exact: the mean of `class_activation_map`
over its positions plus the bias difference equals logit(cataract) - logit(normal).

The model takes raw RGB pixel values (0..255) and applies the normalisation that its
weights were trained with: Keras' "caffe" (RGB->BGR, minus the ImageNet channel means)
or torchvision's (scale to 0..1, minus mean, over std).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from cataract_contract import CATARACT, CLASS_NAMES
from train_jax.model.architecture import POOLINGS, VGG16_BLOCKS

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
TORCH_RGB_STD = (0.229, 0.224, 0.225)

Preprocessing = Literal["caffe", "torch"]

# He initialisation keeps activations from fading through 13 ReLU layers, so the
# network can also learn from scratch (--weights none); pretrained weights replace it.
HE_NORMAL = nnx.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    image_size: int = 224
    # Multiplies every block's channel count: 1.0 is VGG16; tests use narrow variants.
    width: float = 1.0
    dropout: float = 0.5
    num_classes: int = len(CLASS_NAMES)
    preprocessing: Preprocessing = "caffe"
    # Convolutions compute in this dtype (parameters stay float32).
    compute_dtype: Literal["float32", "bfloat16"] = "float32"

    def block_channels(self) -> tuple[int, ...]:
        return tuple(max(1, round(channels * self.width)) for channels, _ in VGG16_BLOCKS)

    def feature_size(self) -> int:
        return self.image_size // 2**POOLINGS


class VGG16(nnx.Module):
    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.config = config
        dtype = jnp.bfloat16 if config.compute_dtype == "bfloat16" else jnp.float32
        in_channels = 3
        blocks = []
        for (_, conv_count), channels in zip(VGG16_BLOCKS, config.block_channels()):
            convs = []
            for _ in range(conv_count):
                convs.append(
                    nnx.Conv(in_channels, channels, (3, 3), padding="SAME", dtype=dtype, kernel_init=HE_NORMAL, rngs=rngs)
                )
                in_channels = channels
            blocks.append(nnx.List(convs))
        self.blocks = nnx.List(blocks)
        # Dropout draws from the rngs passed per call, so the model holds no RNG state
        # and checkpoints hold parameters only.
        self.dropout = nnx.Dropout(config.dropout)
        self.head = nnx.Linear(in_channels, config.num_classes, rngs=rngs)

    def preprocess(self, images: jax.Array) -> jax.Array:
        """Raw RGB 0..255 (any numeric dtype) -> the network's normalised input."""
        pixels = images.astype(jnp.float32)
        if self.config.preprocessing == "torch":
            return (pixels / 255.0 - jnp.asarray(TORCH_RGB_MEAN)) / jnp.asarray(TORCH_RGB_STD)
        return pixels[..., ::-1] - jnp.asarray(CAFFE_BGR_MEAN)

    def trunk(self, x: jax.Array, first_block: int = 0, stop_block: int = POOLINGS) -> jax.Array:
        """Blocks [first_block, stop_block): convolutions with ReLU, then 2x2 max pooling."""
        for block in self.blocks[first_block:stop_block]:
            for conv in block:
                x = nnx.relu(conv(x))
            x = nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        return x

    def classify(self, features: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Last block's feature map -> logits (global average pooling, dropout, dense)."""
        pooled = features.astype(jnp.float32).mean(axis=(1, 2))
        return self.head(self.dropout(pooled, rngs=rngs))

    def forward(
        self, inputs: jax.Array, *, from_block: int = 0, frozen_until: int = 0, rngs: nnx.Rngs | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """The one forward pass of training, inference and export: (logits, last feature map).

        inputs: raw RGB images when from_block is 0, else the activations entering block
        `from_block` (cached by the trainer). No gradient flows back into the blocks before
        `frozen_until`.
        """
        x = inputs
        if frozen_until > from_block:
            x = jax.lax.stop_gradient(self.activations(x, from_block, frozen_until))
            from_block = frozen_until
        features = self.activations(x, from_block, POOLINGS)
        return self.classify(features, rngs), features

    def activations(self, inputs: jax.Array, from_block: int, stop_block: int) -> jax.Array:
        """The activations leaving block `stop_block` - 1, from raw images (from_block 0)
        or from the activations entering `from_block`."""
        x = self.preprocess(inputs) if from_block == 0 else inputs
        return self.trunk(x, from_block, stop_block)

    def __call__(self, images: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.forward(images, rngs=rngs)[0]

    def class_activation_map(self, features: jax.Array, positive_class: int = CATARACT) -> jax.Array:
        """Per-position evidence for `positive_class` over the other class: (N, h, w)."""
        kernel = self.head.kernel[...]
        direction = kernel[:, positive_class] - kernel[:, 1 - positive_class]
        return jnp.einsum("nhwc,c->nhw", features.astype(jnp.float32), direction)


def trainable_filter(first_trainable_block: int):
    """nnx filter for the parameters of blocks >= first_trainable_block and the head."""

    def is_trainable(path: tuple, value) -> bool:
        if not isinstance(value, nnx.Param):
            return False
        if path[0] == "head":
            return True
        return path[0] == "blocks" and int(path[1]) >= first_trainable_block

    return is_trainable
