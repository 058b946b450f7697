"""1/8-width VGG16, 64x64, all layers from scratch: the offline demo.

Command (what scripts/demo.sh runs when no ImageNet weights are at hand):
    cataract synth DATA --n 400 --seed 0
    cataract train --recipe demo --data DATA --out RUN

Data: the 400 synthetic eye photos `cataract synth` draws (DATA/train and DATA/test), or
any folder of photos in the accepted layouts; they are shrunk to 64x64.

Measured (2-core CPU, `cataract bench recipe demo --seeds 0-4`, synthetic photos
S = 0-4, held-out AUC on each set's test/ photos): wall time to be measured; validation
and held-out AUC to be measured.
"""


def settings() -> dict:
    return dict(
        weights="none",
        image_size=64,
        width=0.125,
        # Every block learns from the start: a random frozen base learns little.
        unfreeze_blocks=5,
        head_epochs=1,
        finetune_epochs=24,
        learning_rate=1e-3,
        finetune_learning_rate=1e-3,
        label_smoothing=0.0,
        dropout=0.2,
        patience=8,
    )
