"""VGG16, 224x224, from ImageNet weights: the head, then the last block.

Command (what scripts/demo.sh runs when the ImageNet weights file is found):
    cataract train --recipe imagenet --data DATA --out RUN

Data: eye photos in any accepted layout (DATA/train/{cataract,normal}, optionally
DATA/test/), resized to 224x224, and the published ImageNet VGG16 weights (Keras' file,
else torchvision's, from their caches or a download: train_jax.model.pretrained). The
earlier project's recipe: the head learns on the frozen base, then block 5 too at a tenth
of the rate.

Measured: wall time to be measured; validation result to be measured (this offline
machine has no ImageNet weights file), with the optimiser's warm-up, cosine decay and
clipping.
"""


def settings() -> dict:
    return dict(
        weights="imagenet",
        image_size=224,
        width=1.0,
        unfreeze_blocks=1,
        head_epochs=6,
        finetune_epochs=8,
        learning_rate=1e-4,
        finetune_learning_rate=1e-5,
        warmup_epochs=2.0,
        decay="cosine",
        final_learning_rate_fraction=0.01,
        clip_norm=1.0,
        label_smoothing=0.1,
        dropout=0.5,
        patience=3,
    )
