"""VGG16, 224x224, all layers from scratch: real photos on a GPU.

Command (what scripts/gpu_check.sh runs, the README's H200 run):
    cataract train --recipe photos-gpu --data .data/cataract_eyes --out RUN

Data: the real eye photos (../shared/datasets/cataract_eyes, copied to the GPU machine as
.data/cataract_eyes), resized to 224x224. Every block learns from the start, at a fixed
number of epochs (patience 1000: early stopping never ends the run; the best epoch's
weights are kept). Every layer from scratch, as in the demo: the same warm-up, cosine decay
and clipping, at the same peak of 1e-3 as before.

Measured (one NVIDIA H200, 2026-11-26, README "Measured on a GPU", before augmentation
moved to OpenCV and photos were decoded once): 169 s wall time for 32 epochs, compilation
and the photo scan included (auto batch 46); best validation loss 0.386 at epoch 23,
validation accuracy 0.845 at 0.5 and 0.876 at the Youden threshold 0.474, with a constant
rate and no clipping: to be measured again after the optimiser change. Validation AUC to
be measured.
"""


def settings() -> dict:
    return dict(
        weights="none",
        image_size=224,
        width=1.0,
        unfreeze_blocks=5,
        head_epochs=2,
        finetune_epochs=30,
        learning_rate=1e-3,
        finetune_learning_rate=1e-3,
        warmup_epochs=2.0,
        decay="cosine",
        final_learning_rate_fraction=0.01,
        clip_norm=1.0,
        label_smoothing=0.0,
        dropout=0.2,
        patience=1000,
        # An epoch of steps takes about 0.1 s on an H200, writing a 180 MB checkpoint longer.
        checkpoint_every_seconds=30.0,
    )
