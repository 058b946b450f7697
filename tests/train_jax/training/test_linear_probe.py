"""The head started as a linear probe: the dense layer it sets gives exactly the logistic
regression's probabilities, through the real (narrow) VGG16, and a run trained with
--head-init probe records it and starts from it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from flax import nnx
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cataract_contract import CATARACT
from train_jax.model.vgg16 import VGG16, ModelConfig
from train_jax.training.linear_probe import PROBE_INVERSE_L2, fit_probe
from tests.helpers import run_cli


@pytest.mark.parametrize("head_blocks", [1, 2])
def test_the_folded_head_gives_the_regression_s_probabilities_through_the_network(head_blocks):
    model = VGG16(ModelConfig(image_size=32, width=0.125, preprocessing="torch", head_blocks=head_blocks),
                  rngs=nnx.Rngs(0))
    model.eval()
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 64)
    # Two kinds of pictures, a little apart, so the regression has something to fit.
    images = np.clip(rng.normal(110, 40, (64, 32, 32, 3)) + 30 * (labels == CATARACT)[:, None, None, None], 0, 255)
    pooled = np.asarray(model.pooled(model.forward(images)[1]))
    assert pooled.shape == (64, 64 * head_blocks)  # blocks 4 and 5 have 64 channels each at this width
    model.head.kernel[...], model.head.bias[...] = fit_probe(pooled, labels)

    reference = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_INVERSE_L2, max_iter=10_000))
    reference.fit(pooled, labels == CATARACT)
    expected = reference.predict_proba(pooled)[:, 1]
    probabilities = np.asarray(nnx.softmax(model(images)))[:, CATARACT]
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert 0.1 < expected.mean() < 0.9 and expected.std() > 0.05  # a fit that separates, not a constant


def test_a_constant_feature_does_not_break_the_fit():
    features = np.random.default_rng(1).normal(size=(40, 6))
    features[:, 2] = 3.0
    labels = (features[:, 0] > 0).astype(int)
    kernel, bias = fit_probe(features, labels)
    assert np.isfinite(kernel).all() and np.isfinite(bias).all() and kernel[2].tolist() == [0.0, 0.0]


def test_a_run_with_a_probe_head_records_it_and_starts_from_it(synthetic_photos, tmp_path):
    """With the photos-cpu recipe's two-block head, read from the frozen-feature cache."""
    run = tmp_path / "run"
    trained = run_cli("train", "--data", str(synthetic_photos), "--out", str(run), "--weights", "none",
                      "--image-size", "32", "--width", "0.125", "--head-epochs", "1", "--finetune-epochs", "0",
                      "--head-init", "probe", "--head-blocks", "2")
    assert trained.returncode == 0, trained.stderr
    assert "head started as a linear probe: logistic regression on 128 standardised pooled features" in trained.stderr
    recorded = json.loads((run / "config.json").read_text())
    assert recorded["train"]["head_init"] == "probe" and recorded["train"]["augmented_views"] > 0
    assert recorded["model"]["head_blocks"] == 2


def test_a_head_reading_blocks_the_cache_does_not_keep_is_refused(synthetic_photos, tmp_path):
    refused = run_cli("train", "--data", str(synthetic_photos), "--out", str(tmp_path / "run"), "--weights", "none",
                      "--image-size", "32", "--width", "0.125", "--epochs", "1", "--head-blocks", "3")
    assert refused.returncode == 2
    assert "--head-blocks 3 reads blocks the frozen-feature cache does not keep" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "run").exists()
