"""Fitting the gate: limits from training photos only, refitting at another quantile, and
the stored gate read back whole."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from train_jax.gradability.fit import (
    GREY_SHARE,
    colour_statistics,
    cross_fitted_colour_distances,
    cross_fitted_distances,
    fit_gate,
    refit_limits,
    standardised_statistics,
)
from train_jax.gradability.measures import PhotoMeasures, distance_to_mean, distance_to_means
from train_jax.gradability.spec import COLOUR_BINS, GateSpec


def eye_like(count: int, seed: int) -> tuple[PhotoMeasures, np.ndarray]:
    """Measures of `count` photos of two classes with pairs of near copies (same group)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    features = rng.gamma(4.0, size=(count, 12)) * (1.0 + labels[:, None])  # positive, as pooled ReLU outputs are
    return PhotoMeasures(rng.uniform(60, 180, count), rng.uniform(20, 60, count), rng.normal(-0.8, 0.2, count),
                         histograms(rng, count, bins=slice(20, 30)), features.astype(np.float32)), labels


def histograms(rng: np.random.Generator, count: int, bins: slice) -> np.ndarray:
    """Chromaticity histograms whose shares fall in `bins`."""
    shares = np.zeros((count, COLOUR_BINS**2))
    shares[:, bins] = rng.dirichlet(np.full(bins.stop - bins.start, 2.0), count)
    return shares.astype(np.float32)


def negatives(count: int = 20) -> PhotoMeasures:
    rng = np.random.default_rng(9)
    return PhotoMeasures(rng.uniform(0, 5, count), rng.uniform(0, 5, count), rng.normal(1.5, 0.1, count),
                         histograms(rng, count, bins=slice(40, 50)), rng.uniform(30, 60, (count, 12)).astype(np.float32))


def fitted(validation: PhotoMeasures | None = None, quantile: float = 0.02) -> GateSpec:
    train, labels = eye_like(120, seed=0)
    held_out, _ = eye_like(40, seed=1)
    return fit_gate(train, labels, np.arange(120) // 2, held_out if validation is None else validation, (5,), quantile)


def test_no_validation_or_negative_photo_moves_a_limit_or_a_statistic():
    clean, against_negatives = fitted(), fitted(validation=negatives())
    assert clean.limits == against_negatives.limits
    for name in ("feature_shift", "feature_scale", "class_means", "precision", "colour_mean", "colour_precision"):
        np.testing.assert_array_equal(getattr(clean, name), getattr(against_negatives, name))
    assert against_negatives.validation["refusal_rate"] == 1.0  # what validation measures, not what it chooses
    assert clean.validation["refusal_rate"] < 0.25
    assert clean.validation["photos"] == 40 and sum(clean.validation["by_reason"].values()) == clean.validation["refused"]


def test_refusals_are_counted_by_the_check_that_made_them():
    """The two "not an eye photo" checks told apart: eye-like pictures, half with a
    negative's colours, half with its features."""
    eyes, _ = eye_like(20, seed=3)
    strange = negatives(20)
    half = np.arange(20) < 10
    mixed = dataclasses.replace(eyes, colour_histogram=np.where(half[:, None], strange.colour_histogram, eyes.colour_histogram),
                                features=np.where(half[:, None], eyes.features, strange.features))
    validation = fitted(validation=mixed).validation
    by_check = validation["by_check"]
    assert sum(by_check.values()) == validation["refused"]
    assert by_check["max_colour_distance"] >= 9 and by_check["max_feature_distance"] >= 9
    assert by_check["max_colour_distance"] + by_check["max_feature_distance"] == validation["by_reason"]["not_an_eye_photo"]


def test_each_limit_is_the_training_photos_quantile():
    spec = fitted(quantile=0.05)
    measures = spec.training_measures
    assert spec.limits.min_brightness == pytest.approx(np.quantile(measures["training_brightness"], 0.05))
    assert spec.limits.max_brightness == pytest.approx(np.quantile(measures["training_brightness"], 0.95))
    assert spec.limits.min_sharpness == pytest.approx(np.quantile(measures["training_sharpness"], 0.05))
    assert spec.limits.min_colourfulness == pytest.approx(GREY_SHARE * np.quantile(measures["training_colourfulness"], 0.05))
    assert spec.limits.max_feature_distance == pytest.approx(np.quantile(measures["training_feature_distance"], 0.95))
    assert spec.limits.max_colour_distance == pytest.approx(np.quantile(measures["training_colour_distance"], 0.95))


def test_cross_fitted_distances_are_larger_than_in_sample_ones():
    train, labels = eye_like(120, seed=0)
    in_sample = distance_to_means(train.features, *standardised_statistics(train.features, labels))
    crossed = cross_fitted_distances(train.features, labels, np.arange(120) // 2)
    assert np.median(crossed) > np.median(in_sample)
    colours_in_sample = distance_to_mean(train.colour_histogram, *colour_statistics(train.colour_histogram))
    colours_crossed = cross_fitted_colour_distances(train.colour_histogram, np.arange(120) // 2)
    assert np.median(colours_crossed) > np.median(colours_in_sample)


def test_the_colour_distribution_check_refuses_the_negatives_colours_and_passes_the_validation_photos():
    spec = fitted(validation=dataclasses.replace(eye_like(40, seed=1)[0], brightness=np.full(40, 120.0),
                                                 colour_histogram=negatives(40).colour_histogram))
    assert spec.validation["refused"] == 40  # most as not eye photos (an earlier check may name a few first)
    assert spec.validation["by_reason"]["not_an_eye_photo"] >= 30
    assert (spec.validation_measures["validation_colour_distance"] > spec.limits.max_colour_distance).all()
    assert fitted().validation_measures["validation_colour_distance"].max() < 2 * spec.limits.max_colour_distance


def test_refit_limits_moves_every_limit_with_the_quantile_and_keeps_the_arrays(tmp_path):
    spec = fitted(quantile=0.01)
    spec.save(tmp_path)
    refitted = {q: refit_limits(tmp_path, q) for q in (0.01, 0.05, 0.2)}
    ordered = [refitted[q].limits for q in sorted(refitted)]
    for looser, stricter in zip(ordered, ordered[1:]):
        assert stricter.min_brightness >= looser.min_brightness and stricter.max_brightness <= looser.max_brightness
        assert stricter.min_sharpness >= looser.min_sharpness and stricter.min_colourfulness >= looser.min_colourfulness
        assert stricter.max_feature_distance <= looser.max_feature_distance
        assert stricter.max_colour_distance <= looser.max_colour_distance
    assert refitted[0.01].limits == spec.limits
    rates = [refitted[q].validation["refusal_rate"] for q in sorted(refitted)]
    assert rates == sorted(rates) and rates[-1] > rates[0]
    stored = GateSpec.load(tmp_path)
    assert stored.limits == refitted[0.2].limits and "0.2 quantile" in stored.method
    for name in ("feature_shift", "feature_scale", "class_means", "precision", "colour_mean", "colour_precision"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(spec, name))
    for name, values in {**spec.training_measures, **spec.validation_measures}.items():
        np.testing.assert_allclose({**stored.training_measures, **stored.validation_measures}[name], values, rtol=1e-6)


def test_the_stored_gate_reads_back_whole(tmp_path):
    spec = fitted()
    spec.save(tmp_path)
    assert GateSpec.exists(tmp_path)
    loaded = GateSpec.load(tmp_path)
    for field in dataclasses.fields(GateSpec):
        value, read = getattr(spec, field.name), getattr(loaded, field.name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(read, value.astype(np.float32))
        elif isinstance(value, dict) and field.name.endswith("measures"):
            assert value.keys() == read.keys()
            for name in value:
                np.testing.assert_allclose(read[name], value[name], rtol=1e-6)
        else:
            assert read == value, field.name
    assert loaded.blind_spots and loaded.method


def test_a_gate_fitted_before_the_feature_floor_reads_back_unlogged(tmp_path):
    spec = dataclasses.replace(fitted(), feature_floor=None)
    spec.save(tmp_path)
    loaded = GateSpec.load(tmp_path)
    assert loaded.feature_floor is None
    assert json.loads((tmp_path / "gradability.json").read_text())["logged_features"] is False


@pytest.mark.parametrize(("limit", "measure", "arrays", "words"), [
    ("min_colourfulness", "colourfulness", (), "colourfulness"),
    ("max_colour_distance", "colour_distance", ("colour_mean", "colour_precision"), "chromaticity"),
], ids=["grey-check", "colour-distribution-check"])
def test_a_gate_fitted_before_a_check_refits_and_reads_back_without_it(tmp_path, limit, measure, arrays, words):
    spec = fitted()
    before = spec.with_limits(dataclasses.replace(spec.limits, **{limit: None}))
    before = dataclasses.replace(before, **{name: None for name in arrays},
                                 **{kind: {name: values for name, values in getattr(spec, kind).items()
                                           if not name.endswith(measure)}
                                    for kind in ("training_measures", "validation_measures")})
    before.save(tmp_path)
    limits = json.loads((tmp_path / "gradability.json").read_text())["limits"]
    del limits[limit]  # as such a gate's file has it: no key at all
    (tmp_path / "gradability.json").write_text(json.dumps({**json.loads((tmp_path / "gradability.json").read_text()),
                                                           "limits": limits}))
    loaded = GateSpec.load(tmp_path)
    assert getattr(loaded.limits, limit) is None and all(getattr(loaded, name) is None for name in arrays)
    refitted = refit_limits(tmp_path, 0.05)
    assert getattr(refitted.limits, limit) is None and refitted.limits.min_sharpness > before.limits.min_sharpness
    assert words not in refitted.method and refitted.method.startswith("Five checks")
    assert words in fitted().method and fitted().method.startswith("Six checks")


def test_a_colour_limit_without_its_statistics_is_a_damaged_gate(tmp_path):
    """Else the check would measure zeros against its limit and pass every photo."""
    from train_jax.errors import UserError

    dataclasses.replace(fitted(), colour_mean=None, colour_precision=None).save(tmp_path)
    with pytest.raises(UserError, match="is damaged .*limit and statistics do not come together"):
        GateSpec.load(tmp_path)


def test_every_check_of_the_contracts_table_has_a_limit_a_measure_a_logged_line_and_words(caplog):
    """The table that fitting, validation, the log and the served graph read: each row's
    limit is a field of GateLimits, its measure one the gate stores, and each row is fitted,
    counted by its own reason, logged and described in the method."""
    from cataract_contract import GATE_CHECKS, GATE_MEASURES, GateLimits
    from train_jax.gradability.fit import MEASURE_METHODS, log_gate

    fields = {field.name for field in dataclasses.fields(GateLimits)}
    spec = fitted()
    assert {check.measure for check in GATE_CHECKS} == set(GATE_MEASURES)
    for check in GATE_CHECKS:
        assert check.limit in fields and check.limit.startswith(("min_", "max_"))
        assert getattr(spec.limits, check.limit) is not None  # a new fit makes every check
        assert f"training_{check.measure}" in spec.training_measures
    assert [check for check, _ in spec.limits.checks()] == list(GATE_CHECKS)
    assert set(MEASURE_METHODS) == set(GATE_MEASURES)
    assert spec.method.startswith("Six checks")
    for clause in MEASURE_METHODS.values():
        assert clause.split("{")[0] in spec.method  # its words before the first figure
    with caplog.at_level("INFO", logger="train_jax.gradability.fit"):
        log_gate(spec)
    logged = [record.getMessage() for record in caplog.records]
    for check in GATE_CHECKS:
        assert any(line.startswith(f"  {check.refuses} ") for line in logged), check.refuses
