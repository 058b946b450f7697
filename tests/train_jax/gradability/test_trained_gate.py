"""A trained run's own gate: fitted when training ended, refusing what it robustly can
even for a tiny synthetic run, and reported by `cataract evaluate`."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PIL import Image, ImageFilter

from cataract_contract import UngradableReason, decode_image, read_image_bytes, resize_for_model
from tests.helpers import split_photos
from train_jax.evaluation.evaluate import evaluate, summary_lines
from train_jax.gradability.measures import gate
from train_jax.gradability.spec import GateSpec
from train_jax.training.run_folder import load_run


def test_training_fits_a_gate_that_refuses_dark_and_blurred_photos(tiny_run, synthetic_photos):
    assert GateSpec.exists(tiny_run)
    spec, model = GateSpec.load(tiny_run), load_run(tiny_run).model
    validation = spec.validation
    assert validation["photos"] == len(json.loads((tiny_run / "split.json").read_text())["validation"])
    assert set(spec.training_measures) == {"training_brightness", "training_colourfulness", "training_sharpness",
                                           "training_colour_distance", "training_feature_distance"}
    side = model.config.image_size
    eyes = [decode_image(read_image_bytes(path)) for path in split_photos(synthetic_photos, 6)]
    blurred = [resize_for_model(eye.filter(ImageFilter.GaussianBlur(max(eye.size) / 40)), side) for eye in eyes]
    black = np.zeros((side, side, 3), np.uint8)
    decided = gate(model, spec, np.stack([black, *blurred]))
    assert decided["reason"][0] == UngradableReason.TOO_DARK
    # Every blurred photo fails the blur check (an earlier check, too bright, may name it first).
    assert (decided["sharpness"][1:] < spec.limits.min_sharpness).all() and not decided["gradable"].any()
    # Grey copies of the eye photos fail the grey check (too dark or bright may name it first).
    grey = gate(model, spec, np.stack([resize_for_model(eye.convert("L").convert("RGB"), side) for eye in eyes]))
    assert (grey["colourfulness"] < spec.limits.min_colourfulness).all() and not grey["gradable"].any()
    assert (grey["reason"] == UngradableReason.GREYSCALE).sum() >= 4
    # Too small is decided from the decoded size, whatever the pixels.
    small = gate(model, spec, np.stack(blurred[:1]), photo_size=[(20, 300)])
    assert small["reason"].tolist() == [UngradableReason.TOO_SMALL]


def textures(count: int, side: int) -> np.ndarray:
    """Smooth coloured textures: low-resolution noise blown up to the model's size."""
    rng = np.random.default_rng(4)
    return np.stack([np.asarray(Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).resize(
        (side, side), Image.BICUBIC)) for _ in range(count)])


def test_even_a_tiny_run_s_gate_refuses_textures_as_not_eye_photos(tiny_run):
    spec, model = GateSpec.load(tiny_run), load_run(tiny_run).model
    decided = gate(model, spec, textures(8, model.config.image_size))
    assert not decided["gradable"].any()
    assert (decided["reason"] == UngradableReason.NOT_AN_EYE_PHOTO).sum() >= 6  # any others: too smooth, blurred


def test_evaluate_reports_refusals_and_the_figures_on_graded_photos_beside_all(tiny_run, synthetic_photos, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    report = evaluate(run, synthetic_photos / "test")
    gradability = json.loads((run / "metrics.json").read_text())["gradability"]
    test = gradability["test"]
    assert test["photos"] == report["test_at_threshold"]["count"]
    assert test["refused"] == sum(test["by_reason"].values()) == len(gradability["refused_test_photos"])
    graded = gradability.get("graded_test_at_threshold")
    if graded is not None:
        assert graded["count"] == test["photos"] - test["refused"]
    assert gradability["limits"] == json.loads((run / "gradability.json").read_text())["limits"]
    assert any(line.startswith("gradability: refused ") for line in summary_lines(report))
    page = (run / "report.html").read_text()
    assert "<h2>Gradability</h2>" in page and "Known blind spots" in page


def test_evaluate_reports_a_gate_fitted_before_the_colour_check(tiny_run, synthetic_photos, tmp_path):
    """Such a gate's file has no colour limit: evaluate judges without the check and its
    report says so (it crashed formatting the missing limit as a number)."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    gate_file = run / "gradability.json"
    written = json.loads(gate_file.read_text())
    del written["limits"]["min_colourfulness"]
    gate_file.write_text(json.dumps(written))
    evaluate(run, synthetic_photos / "test")
    assert json.loads((run / "metrics.json").read_text())["gradability"]["limits"]["min_colourfulness"] is None
    assert "<tr><td>min_colourfulness</td><td>not checked</td></tr>" in (run / "report.html").read_text()
