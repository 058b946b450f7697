"""Finding photos in the accepted layouts, skipping bad files, and the grouped split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train_jax.data import scan as photos
from train_jax.data.split import split_train_validation
from cataract_contract import CLASS_NAMES
from train_jax.data.checks import copy_groups
from train_jax.errors import UserError
from train_jax.data.synth import draw_eye


def write_photo(path: Path, seed: int, cataract: bool = False, size: int = 64) -> Image.Image:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = draw_eye(np.random.default_rng(seed), cataract, height=size)
    image.save(path)
    return image


def test_split_layout_with_any_case(tmp_path):
    write_photo(tmp_path / "Train" / "Cataract" / "a.JPG", 1, True)
    write_photo(tmp_path / "Train" / "NORMAL" / "b.Png", 2)
    write_photo(tmp_path / "test" / "cataract" / "c.jpeg", 3, True)
    (tmp_path / "Train" / "NORMAL" / "notes.txt").write_text("not a photo")
    (tmp_path / "Train" / "NORMAL" / ".hidden.jpg").write_bytes(b"")
    splits = photos.discover(tmp_path)
    assert sorted(splits) == ["test", "train"]
    assert [(Path(r.path).name, CLASS_NAMES[r.label]) for r in splits["train"]] == [("a.JPG", "cataract"), ("b.Png", "normal")]
    assert [Path(r.path).name for r in splits["test"]] == ["c.jpeg"]


def test_flat_layout_is_a_training_set(tmp_path):
    write_photo(tmp_path / "cataract" / "a.bmp", 1, True)
    write_photo(tmp_path / "normal" / "sub" / "b.webp", 2)
    splits = photos.discover(tmp_path)
    assert list(splits) == ["train"] and len(splits["train"]) == 2


def test_missing_or_unrecognised_folders_are_clear_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        photos.discover(tmp_path / "nowhere")
    (tmp_path / "photos").mkdir()
    with pytest.raises(UserError, match="neither train/"):
        photos.discover(tmp_path)


def test_unreadable_files_are_listed_and_skipped(tmp_path):
    write_photo(tmp_path / "cataract" / "good.jpg", 1, True)
    (tmp_path / "cataract" / "text.jpg").write_text("hello")
    good = (tmp_path / "cataract" / "good.jpg").read_bytes()
    (tmp_path / "normal").mkdir()
    (tmp_path / "normal" / "cut.jpg").write_bytes(good[: len(good) // 3])
    scanned, unreadable = photos.scan(photos.discover(tmp_path)["train"])
    assert [Path(s.record.path).name for s in scanned] == ["good.jpg"]
    reasons = {Path(u.path).name: u.reason for u in unreadable}
    assert sorted(reasons) == ["cut.jpg", "text.jpg"]
    assert reasons["text.jpg"].startswith("not an image")
    assert reasons["cut.jpg"].startswith("truncated or corrupt")


def test_a_single_class_is_a_clear_error(tmp_path):
    write_photo(tmp_path / "cataract" / "a.jpg", 1, True)
    (tmp_path / "normal").mkdir()
    scanned, _ = photos.scan(photos.discover(tmp_path)["train"])
    with pytest.raises(UserError, match="no readable images of class 'normal'"):
        photos.require_both_classes([s.record for s in scanned], str(tmp_path))


def test_copies_survive_resizing_reencoding_crops_and_mirroring_but_distinct_photos_stay_apart(tmp_path):
    photo = draw_eye(np.random.default_rng(5), True, height=200)
    variants = [photo.resize((150, 120)), photo.crop((4, 3, photo.width - 4, photo.height - 3)),
                photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    others = [draw_eye(np.random.default_rng(seed), bool(seed % 2), height=200) for seed in range(20, 40)]
    folder = tmp_path / "photos" / "cataract"
    folder.mkdir(parents=True)
    photo.save(folder / "a0.png")
    photo.save(folder / "a1_low_quality.jpg", quality=40)
    for index, image in enumerate([*variants, *others]):
        image.save(folder / f"{'a' if index < len(variants) else 'b'}{index + 2}.png")
    scanned, _ = photos.scan(photos.discover(tmp_path / "photos")["train"])
    grouping = copy_groups(scanned)
    names = [Path(image.record.path).stem for image in scanned]
    copies = [group for name, group in zip(names, grouping.ids) if name.startswith("a")]
    assert len(copies) == 5 and len(set(copies)) == 1, "copies of one photo must share a group"
    assert len(set(grouping.ids)) == 1 + len(others), "distinct photos must not be grouped"
    assert [name for name, mirrored in zip(names, grouping.mirrored) if mirrored] == ["a4"], "the mirrored copy faces the other way"


def test_split_is_stratified_seeded_and_keeps_copies_together(tmp_path):
    for index in range(40):
        cataract = index % 2 == 0
        image = write_photo(tmp_path / CLASS_NAMES[0 if cataract else 1] / f"p{index}.png", 100 + index, cataract, size=160)
        if index < 6:  # a resized copy and an exact copy of the first photos
            image.resize((150, 120)).save(tmp_path / CLASS_NAMES[0 if cataract else 1] / f"p{index}_small.png")
            (tmp_path / CLASS_NAMES[0 if cataract else 1] / f"p{index}_copy.png").write_bytes(
                (tmp_path / CLASS_NAMES[0 if cataract else 1] / f"p{index}.png").read_bytes()
            )
    scanned, _ = photos.scan(photos.discover(tmp_path)["train"])
    train, validation = split_train_validation(scanned, 0.25, seed=3)
    assert len(train) + len(validation) == len(scanned) == 52
    validation_counts = Counter(image.record.label for image in validation)
    assert abs(validation_counts[0] - validation_counts[1]) <= 3
    stem = lambda image: Path(image.record.path).stem.split("_")[0]  # noqa: E731
    assert not {stem(i) for i in train} & {stem(i) for i in validation}, "a photo's copies crossed the split"
    again, _ = split_train_validation(scanned, 0.25, seed=3)
    assert [i.record.path for i in again] == [i.record.path for i in train]
    other, _ = split_train_validation(scanned, 0.25, seed=4)
    assert [i.record.path for i in other] != [i.record.path for i in train]


def test_fingerprint_depends_on_content_and_labels_not_paths(tmp_path):
    write_photo(tmp_path / "a" / "cataract" / "x.png", 1, True)
    write_photo(tmp_path / "a" / "normal" / "y.png", 2)
    write_photo(tmp_path / "b" / "cataract" / "renamed.png", 1, True)
    write_photo(tmp_path / "b" / "normal" / "other.png", 2)
    first = photos.fingerprint(photos.scan(photos.discover(tmp_path / "a")["train"])[0])
    second = photos.fingerprint(photos.scan(photos.discover(tmp_path / "b")["train"])[0])
    assert first == second
    write_photo(tmp_path / "b" / "normal" / "extra.png", 3)
    assert photos.fingerprint(photos.scan(photos.discover(tmp_path / "b")["train"])[0]) != first
