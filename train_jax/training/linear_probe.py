"""The head started as a linear probe (--head-init probe): fitted in closed form before
the head phase, as in LP-FT (Kumar et al. 2022, "Fine-Tuning can Distort Pretrained
Features and Underperform Out-of-Distribution").

Why: the pooled features of a frozen VGG are all positive and share a large common mean
(on random He-initialised blocks, mean 1.15 against a spread of 1.27 on the real photos),
so a dense layer trained on them from a random start by Adam is badly conditioned: ten
head epochs left the validation AUC of the real-photo recipe at 0.70 on one seed and 0.93
on another. A logistic regression on the standardised features is solved to convergence
instead, and folded back into the dense layer, so the model keeps its shape (export, the
class-activation map and checkpoints are unchanged); the head phase then refines it.

Dropout does not go with such a head: its bias cancels the features' common mean, which
dropout takes away from half of them at random, so the logits swing by far more than the
classes differ (on the real photos the training loss read 3.1 under dropout 0.5 while the
validation loss was 0.30). A run with a probe head and dropout is warned about.
"""

from __future__ import annotations

import logging

import jax
import numpy as np
from flax import nnx
from tqdm import tqdm

from cataract_contract import CATARACT
from train_jax.data.pipeline import epoch_batches
from train_jax.training.predict import pad_batch

log = logging.getLogger(__name__)

# Inverse L2 strength of the logistic regression on standardised features (scikit-learn's
# C). Chosen on the validation split of the real photos' seed 0 (0.01, 0.1 and 1 gave
# validation AUC 0.93, 0.93, 0.94 and cross-entropy 0.36, 0.35, 0.46), never on held-out photos.
PROBE_INVERSE_L2 = 0.1
# The smallest spread a feature is standardised by, as a share of the features' mean spread.
MIN_SCALE_FRACTION = 0.01


def pooled_features(run, cache) -> tuple[np.ndarray, np.ndarray]:
    """The head's inputs (the head blocks' global averages, before dropout) for every
    training photo, and their labels: every cached augmented view when the frozen-feature
    cache is on, else each photo once, unaugmented. Every process computes all of them on
    its own devices, so every process fits the same head."""
    model, size = run.model, run.config.batch_size
    first_block = run.cache_block if cache is not None else 0
    graphdef, state = nnx.split(model, nnx.Param)
    state = run.local.replicate(state)

    @jax.jit
    def pooled(state, inputs):
        model = nnx.merge(graphdef, state)
        return model.pooled(model.head_maps(inputs, from_block=first_block))

    labels = run.train_labels
    if cache is not None:
        chunks = (view[i : i + size] for view in cache.train for i in range(0, len(view), size))
        labels = np.tile(labels, len(cache.train))
    else:
        chunks = (batch["image"] for batch in epoch_batches(
            [image.record for image in run.train], image_size=run.config.image_size, batch_size=size,
            workers=run.config.workers))
    features = [np.asarray(pooled(state, run.local.shard(pad_batch(chunk, size))))[: len(chunk)]
                for chunk in tqdm(chunks, desc="linear probe: pooled features", unit="batch", leave=False)]
    return np.concatenate(features), labels


def fit_probe(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dense layer's kernel (features, 2) and bias (2,) of a logistic regression fitted
    on standardised features, folded back to act on the raw ones. Its logits are (z/2, -z/2)
    for the log-odds z of a cataract, so the softmax gives exactly the regression's probability."""
    from sklearn.linear_model import LogisticRegression  # only when a probe is fitted

    mean, scale = features.mean(axis=0), features.std(axis=0)
    # A feature that barely varies would get a weight of 1/scale in raw units, and
    # amplify its rounding noise (bfloat16 on a GPU) into the logits: floor its scale.
    scale = np.maximum(scale, MIN_SCALE_FRACTION * scale.mean()) if scale.any() else np.ones_like(scale)
    regression = LogisticRegression(C=PROBE_INVERSE_L2, max_iter=10_000)
    regression.fit((features - mean) / scale, labels == CATARACT)
    weights = regression.coef_[0] / scale
    intercept = regression.intercept_[0] - float(mean @ weights)
    kernel = np.zeros((features.shape[1], 2), np.float32)
    kernel[:, CATARACT], kernel[:, 1 - CATARACT] = weights / 2, -weights / 2
    bias = np.zeros(2, np.float32)
    bias[CATARACT], bias[1 - CATARACT] = intercept / 2, -intercept / 2
    return kernel, bias


def start_head_as_probe(run, cache) -> None:
    """Set the model's dense layer to the linear probe of its current features."""
    if run.model.config.dropout > 0:
        log.warning("--head-init probe with --dropout %g: dropout before a probe head makes its training loss swing "
                    "far above its validation loss; --dropout 0 is its setting", run.model.config.dropout)
    features, labels = pooled_features(run, cache)
    kernel, bias = fit_probe(features, labels)
    run.model.head.kernel[...] = kernel
    run.model.head.bias[...] = bias
    log.info("head started as a linear probe: logistic regression on %d standardised pooled features of %d "
             "training inputs (C=%g)", features.shape[1], len(features), PROBE_INVERSE_L2)
