"""`cataract bench gradability`: the negative sets are deterministic and of the kinds and
sizes they declare; the goals pool the rows they name; and the benchmark runs end to end
on a tiny trained run, through the command line, its JSON giving every kind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageFilter

from benchmarks.configs import GradabilityBenchConfig
from benchmarks.gradability import EYE_PHOTOS, goal_figures, goals
from benchmarks.negatives import (
    KINDS,
    KINDS_BY_NAME,
    NOT_EYE,
    SEEN_KINDS,
    SIDES,
    UNSEEN_KINDS,
    make_negatives,
)
from cataract_contract import MIN_PHOTO_SIDE, decode_image
from tests.helpers import run_cli
from train_jax.data.synth import draw_eye
from train_jax.errors import UserError


@pytest.fixture(scope="module")
def eye_photos() -> list[Image.Image]:
    rng = np.random.default_rng(5)
    return [draw_eye(rng, cataract=bool(index % 2), height=height) for index, height in enumerate((120, 256, 400))]


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.float64)


def test_every_kind_is_seen_or_unseen_and_the_issue_kinds_are_there():
    assert set(SEEN_KINDS) | set(UNSEEN_KINDS) == {kind.name for kind in KINDS}
    assert not set(SEEN_KINDS) & set(UNSEEN_KINDS)
    assert set(SEEN_KINDS) == {"noise", "documents", "dark", "bright", "blurred", "shrunk",
                               "scenes", "fundus-like", "objects", "screenshots/UI", "dim", "motion-blurred",
                               "radiographs", "charts", "blank surfaces", "sketches",
                               "ECG printouts", "microscope slides", "skin close-ups", "street maps",
                               "food plates", "leaf close-ups", "fabric patterns", "abstract paintings"}
    assert set(UNSEEN_KINDS) == {"shelves", "flowers", "desk tops", "pet fur"}
    assert all(KINDS_BY_NAME[name].goal == NOT_EYE and not KINDS_BY_NAME[name].eye_derived for name in UNSEEN_KINDS)


@pytest.mark.parametrize("kind", [kind.name for kind in KINDS])
def test_each_kind_is_the_same_for_a_seed_and_another_for_another_seed(kind, eye_photos):
    def drawn(seed: int) -> list[np.ndarray]:
        return [pixels(negative.image) for negative in make_negatives(KINDS_BY_NAME[kind], seed, 3, eye_photos)]

    first, again, other = drawn(0), drawn(0), drawn(1)
    assert len(first) == 3 and all(np.array_equal(a, b) for a, b in zip(first, again))
    if kind not in ("dark", "blurred"):  # these two have no randomness: one picture per eye photo
        assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))


def test_drawn_kinds_are_photo_sized_and_survive_encoding(eye_photos):
    for kind in (kind for kind in KINDS if not kind.eye_derived):
        for negative in make_negatives(kind, 3, 4, eye_photos):
            width, height = negative.image.size
            assert negative.image.mode == "RGB", kind.name
            assert SIDES[0] <= width <= SIDES[1] and SIDES[0] <= height <= SIDES[1], kind.name
            assert decode_image(negative.encoded(kind.image_format)).size == (width, height)
            assert pixels(negative.image).std() > 5, kind.name  # a picture, not a flat fill


def test_eye_derived_kinds_are_what_they_declare(eye_photos):
    def made(kind: str) -> list[Image.Image]:
        return [negative.image for negative in make_negatives(KINDS_BY_NAME[kind], 0, 99, eye_photos)]

    for photo, dark, bright, blurred, shrunk, dim, streaked in zip(
            eye_photos, *(made(name) for name in ("dark", "bright", "blurred", "shrunk", "dim", "motion-blurred"))):
        original = pixels(photo)
        assert np.array_equal(pixels(dark), pixels(ImageEnhance.Brightness(photo).enhance(0.03)))
        assert pixels(dark).mean() == pytest.approx(0.03 * original.mean(), abs=1.0)
        assert np.all(np.minimum(3 * original, 255) - 1 <= pixels(bright))  # each pixel 3-4 times, clipped
        assert np.all(pixels(bright) <= np.minimum(4 * original, 255) + 1)
        assert np.array_equal(pixels(blurred), pixels(photo.filter(ImageFilter.GaussianBlur(max(photo.size) / 40))))
        assert min(shrunk.size) < MIN_PHOTO_SIDE and min(shrunk.size) >= 8
        assert 0.05 * original.mean() - 1 <= pixels(dim).mean() <= 0.15 * original.mean() + 1
        for image in (dark, bright, blurred, dim, streaked):
            assert image.size == photo.size
        assert np.abs(np.diff(pixels(streaked), axis=1)).mean() < np.abs(np.diff(original, axis=1)).mean()


def test_goals_pool_the_rows_they_name():
    rows = [{"kind": EYE_PHOTOS, "photos": 40, "refused": 2}, {"kind": "noise", "photos": 10, "refused": 10},
            {"kind": "documents", "photos": 10, "refused": 7}, {"kind": "dark", "photos": 40, "refused": 32}]
    by_name = {goal.name: goal for goal in goals()}
    seen = goal_figures(by_name["non-eye pictures refused, seen kinds"], rows)
    assert seen["photos"] == 20 and seen["value"] == 0.85 and not seen["met"]
    clean = goal_figures(by_name["clean eye photos refused (false refusals)"], rows)
    assert clean["value"] == 0.05 and clean["met"]
    assert goal_figures(by_name["dark eye photos (3% brightness) refused"], rows)["met"]  # 80% exactly
    unseen = goal_figures(by_name["non-eye pictures refused, unseen kinds"], rows)
    assert unseen["photos"] == 0 and not unseen["met"]  # nothing measured is never met


def test_settings_are_checked():
    with pytest.raises(UserError, match="--per-kind"):
        GradabilityBenchConfig(run="r", per_kind=0)
    with pytest.raises(UserError, match="--cost-precision"):
        GradabilityBenchConfig(run="r", cost_precision="int8")


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_a_tiny_run(tiny_run, tmp_path):
    figures = tmp_path / "gradability.json"
    result = run_cli("bench", "gradability", "--run", str(tiny_run), "--per-kind", "4", "--cost", "--rounds", "2",
                     "--calls-per-round", "1", "--json-out", str(figures))
    report = json.loads(figures.read_text())
    assert result.returncode == (0 if report["all_met"] else 1), result.stderr

    rows = {row["kind"]: row for row in report["kinds"]}
    validation = json.loads((tiny_run / "split.json").read_text())["validation"]
    assert set(rows) == {EYE_PHOTOS, *(kind.name for kind in KINDS)}
    assert rows[EYE_PHOTOS]["photos"] == len(validation)
    for kind in KINDS:
        row = rows[kind.name]
        assert row["group"] == ("seen kinds" if kind.seen else "unseen kinds")
        assert row["photos"] == (len(validation) if kind.eye_derived else 4)
    for row in rows.values():
        assert 0.0 <= row["refusal_rate"] <= 1.0 and sum(row["reasons"].values()) == row["refused"]
        assert sum(row["by_check"].values()) == row["refused"]
        assert row["refusal_rate"] == pytest.approx(row["refused"] / row["photos"])
    assert rows["shrunk"]["refusal_rate"] == 1.0 and set(rows["shrunk"]["reasons"]) == {"too small"}
    assert rows["shrunk"]["by_check"]["min_photo_side"] == rows["shrunk"]["photos"]

    assert [goal["goal"] for goal in report["goals"]] == [goal.name for goal in goals()] + [
        "the gate's serving cost (added time per photo)"]
    assert all(0.0 <= goal["value"] <= 1.0 for goal in report["goals"][:-1])
    assert report["all_met"] == all(goal["met"] for goal in report["goals"])
    cost = report["serving_cost"]
    assert cost["seconds_per_photo"]["gated"] > 0 and cost["seconds_per_photo"]["ungated"] > 0
    assert cost["ratio"] == pytest.approx(cost["seconds_per_photo"]["gated"] / cost["seconds_per_photo"]["ungated"])

    printed = result.stdout
    assert printed.index("seen kinds") < printed.index("unseen kinds") < printed.index("goals (issue 20)")
    assert all(kind.name in printed for kind in KINDS) and "serving cost" in printed
