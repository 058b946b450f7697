"""VGG16, 224x224, on a frozen random base: real photos on a CPU.

Command (today's default `cataract train --data DATA --weights none`):
    cataract train --recipe photos-cpu --data ../shared/datasets/cataract_eyes --out RUN

Data: the real eye photos (../shared/datasets/cataract_eyes: DATA/train/{cataract,normal},
no test/ split), resized to 224x224. On one CPU process the frozen blocks 1-4 run once for
a few augmented views of each photo (the frozen-feature cache), so only block 5 and the
head train: the earlier project's phases, head first and then the last block.

Measured before the optimiser change (a constant Adam rate, no warm-up, decay or
clipping; to be measured again after the optimiser change): 2-core CPU, 2026-11-25, README
"Measured on this machine": 9 min 56 s, peak memory 2.4 GiB; best validation loss 0.543 at
the last epoch, validation accuracy 0.773. Seed 0: validation AUC 0.768, AUC 0.806 on a
grouped fold it never saw (issue 21); seeds 1 and 2: 0.934 / 0.981 and 0.952 / 0.981.
After the optimiser change (these settings), `cataract bench recipe photos-cpu --data DATA
--seeds 0-2`, 2026-12-01, seed 0 only (the other seeds were stopped: the machine was needed):
validation AUC 0.836, held-out AUC 0.659 [0.543, 0.769], accuracy 0.642, 20 epochs, 712 s;
training loss still 0.63-0.79 at the end. The head's peak of 1e-4, warmed up and decayed,
is too small for a head on random features: the recipe does not reach issue 21's goal.
"""


def settings() -> dict:
    return dict(
        weights="none",
        image_size=224,
        width=1.0,
        unfreeze_blocks=1,
        head_epochs=10,
        finetune_epochs=10,
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
