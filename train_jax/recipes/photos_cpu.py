"""VGG16, 224x224, on a frozen random base: real photos on a CPU.

Command (`cataract train --data DATA --weights none` with a probe head and no dropout):
    cataract train --recipe photos-cpu --data ../shared/datasets/cataract_eyes --out RUN

Data: the real eye photos (../shared/datasets/cataract_eyes: DATA/train/{cataract,normal},
no test/ split), resized to 224x224. On one CPU process the frozen blocks 1-4 run once for
a few augmented views of each photo (the frozen-feature cache), so only block 5 and the
head train: the earlier project's phases, head first and then the last block.

The head starts as a linear probe (--head-init probe, training/linear_probe.py) and takes
no dropout: Adam from a random head on the frozen random base's pooled features is badly
conditioned (a simulation of the head phase on seed 0's features: validation AUC 0.70 at
the old head settings, 0.93 from the probe).

Measured, `cataract bench recipe photos-cpu --data ../shared/datasets/cataract_eyes
--seeds 0-2` (2-core CPU, 2026-12-01, these settings; scored on a fixed grouped fold of 95
photos no choice saw; the machine was shared with a test run, so the seconds are high):

    seed  val AUC  held-out AUC [95%]     accuracy  epochs  seconds
       0    0.947  0.844 [0.756, 0.919]      0.747      11      689
       1    0.976  0.875 [0.796, 0.937]      0.779      13      810
       2    0.892  0.901 [0.835, 0.958]      0.821      19     1002

Held-out AUC mean 0.873, spread 0.056, minimum 0.844: issue 21's goal (every seed at least
0.90, spread at most 0.05) is not reached. The best epoch was in the head phase for seed 0
(epoch 4) and in fine-tuning for seeds 1 and 2 (epochs 10 and 18); fine-tuning block 5 at
1e-5 first raises the training loss (0.30 to 0.47-0.64: the folded head is sensitive to
small changes of the features), and on seed 0 early stopping ends it there.
Before: seed 0 held-out AUC 0.659 [0.543, 0.769] with the warm-up, decay and clipping but
a random head at 1e-4 and dropout 0.5 (validation AUC 0.836), and 0.844 with the probe and
dropout 0.5 (validation AUC 0.947, training loss 3.1 under dropout). Validation (74 photos)
is too small to choose between recipes whose held-out AUCs differ by less than its noise.
Orthogonal kernels for the random base (2026-12-02) raised the probe's cross-validated AUC
on the training pool; on the held-out fold they gave 0.914, 0.948, 0.805 (spread 0.142, the
minimum further from the goal), and the gradability gate then refused no drawn scenes or
objects: He-normal kept (README).
"""


def settings() -> dict:
    return dict(
        weights="none",
        image_size=224,
        width=1.0,
        unfreeze_blocks=1,
        head_init="probe",
        head_epochs=10,
        finetune_epochs=10,
        learning_rate=1e-4,
        finetune_learning_rate=1e-5,
        warmup_epochs=2.0,
        decay="cosine",
        final_learning_rate_fraction=0.01,
        clip_norm=1.0,
        label_smoothing=0.1,
        dropout=0.0,  # a probe head takes no dropout (train_jax/training/linear_probe.py)
        patience=3,
    )
