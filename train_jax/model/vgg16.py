"""VGG16 in Flax NNX with a transfer-learning head and a class-activation map.

The 13 convolutions of VGG16 (five blocks, each closed by 2x2 max pooling), then global
average pooling, dropout and one 2-way dense layer. The dense layer reads the global
averages of the last `head_blocks` blocks' outputs, concatenated (1: VGG16's own head, block
5 alone; a frozen random base gives more distinct features with block 4's beside them).
Because the head is linear after the pooling, the class-activation map (CAM) is exact: each
head block's evidence map, averaged down to the last block's grid (which keeps its mean),
summed; the mean of `class_activation_map` over its positions plus the bias difference
equals logit(cataract) - logit(normal).

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
    # How many of the last blocks feed the dense layer (runs recorded before it: 1).
    head_blocks: int = 1

    def head_block_indices(self) -> range:
        """The 0-based blocks whose global averages the dense layer reads, in order."""
        return range(POOLINGS - self.head_blocks, POOLINGS)

    def head_inputs(self) -> int:
        """The dense layer's input width: the head blocks' channels together."""
        channels = self.block_channels()
        return sum(channels[index] for index in self.head_block_indices())

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
        if not 1 <= config.head_blocks <= POOLINGS:
            raise ValueError(f"head_blocks must be 1..{POOLINGS}, got {config.head_blocks}")
        self.head = nnx.Linear(config.head_inputs(), config.num_classes, rngs=rngs)

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

    def pooled(self, head_maps: list[jax.Array]) -> jax.Array:
        """The head blocks' feature maps -> the dense layer's input (N, head_inputs)."""
        return jnp.concatenate([m.astype(jnp.float32).mean(axis=(1, 2)) for m in head_maps], axis=-1)

    def classify(self, head_maps: list[jax.Array], rngs: nnx.Rngs | None = None) -> jax.Array:
        """The head blocks' feature maps -> logits (global average pooling, dropout, dense)."""
        return self.head(self.dropout(self.pooled(head_maps), rngs=rngs))

    def forward(
        self, inputs: jax.Array, *, from_block: int = 0, frozen_until: int = 0, rngs: nnx.Rngs | None = None
    ) -> tuple[jax.Array, list[jax.Array]]:
        """The one forward pass of training, inference and export: (logits, the head blocks'
        feature maps, first to last). The inputs are those of `head_maps`."""
        head_maps = self.head_maps(inputs, from_block=from_block, frozen_until=frozen_until)
        return self.classify(head_maps, rngs), head_maps

    def head_maps(self, inputs: jax.Array, *, from_block: int = 0, frozen_until: int = 0) -> list[jax.Array]:
        """The head blocks' feature maps, first to last.

        inputs: raw RGB images when from_block is 0, else the activations entering block
        `from_block` (cached by the trainer), which must not start after the first head
        block's output. No gradient flows back into the blocks before `frozen_until`.
        """
        first_head = self.config.head_block_indices()[0]
        if from_block > first_head + 1:
            raise ValueError(f"inputs entering block {from_block} (0-based) hold no output of head block {first_head}")
        x = self.preprocess(inputs) if from_block == 0 else inputs
        head_maps = [x] if from_block == first_head + 1 else []  # the inputs are the first head block's output
        for index in range(from_block, POOLINGS):
            x = self.trunk(x, index, index + 1)
            if index < frozen_until:
                x = jax.lax.stop_gradient(x)
            if index >= first_head:
                head_maps.append(x)
        return head_maps

    def activations(self, inputs: jax.Array, from_block: int, stop_block: int) -> jax.Array:
        """The activations leaving block `stop_block` - 1, from raw images (from_block 0)
        or from the activations entering `from_block`."""
        x = self.preprocess(inputs) if from_block == 0 else inputs
        return self.trunk(x, from_block, stop_block)

    def __call__(self, images: jax.Array, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.forward(images, rngs=rngs)[0]

    def class_activation_map(self, head_maps: list[jax.Array], positive_class: int = CATARACT) -> jax.Array:
        """Per-position evidence for `positive_class` over the other class on the last
        block's grid: (N, h, w)."""
        kernel = self.head.kernel[...]
        direction = kernel[:, positive_class] - kernel[:, 1 - positive_class]
        side = head_maps[-1].shape[1]
        evidence, offset = 0.0, 0
        for feature_map in head_maps:
            count, step = feature_map.shape[-1], feature_map.shape[1] // side
            block_map = jnp.einsum("nhwc,c->nhw", feature_map.astype(jnp.float32), direction[offset : offset + count])
            # Averaging step x step cells down to the last grid keeps the map's mean, so the CAM stays exact.
            evidence = evidence + block_map.reshape(-1, side, step, side, step).mean(axis=(2, 4))
            offset += count
        return evidence


def trainable_filter(first_trainable_block: int):
    """nnx filter for the parameters of blocks >= first_trainable_block and the head."""

    def is_trainable(path: tuple, value) -> bool:
        if not isinstance(value, nnx.Param):
            return False
        if path[0] == "head":
            return True
        return path[0] == "blocks" and int(path[1]) >= first_trainable_block

    return is_trainable
