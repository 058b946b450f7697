"""`cataract bench train --end-to-end`: every phase fed from photos through the training
input pipeline, its figures beside the step alone, small enough for this CPU."""

from __future__ import annotations

import json

from cataract_cli.main import main


def test_end_to_end_times_each_phase_from_photos_beside_the_step_alone(synthetic_photos, tmp_path, capsys):
    figures = tmp_path / "train.json"
    assert main(["bench", "train", "--end-to-end", "--data", str(synthetic_photos), "--image-size", "32",
                 "--width", "0.125", "--batch-sizes", "8", "--steps", "2", "--json-out", str(figures)]) == 0
    report = json.loads(figures.read_text())
    assert (report["image_size"], report["width"], report["batch"], report["workers"]) == (32, 0.125, 8, 0)
    assert report["photos"] == len(list((synthetic_photos / "train").rglob("*.jpg")))
    rows = report["end_to_end"]
    assert [row["name"] for row in rows] == ["recipe phase 1, base frozen", "recipe phase 2, last block trainable",
                                             "all layers trainable"]
    for row in rows:
        assert row["images_per_second"] > 0 and row["step_only_images_per_second"] > 0
        assert abs(row["ratio"] - row["images_per_second"] / row["step_only_images_per_second"]) < 1e-9
        assert 0 <= row["waiting_share"] < 1
    printed = capsys.readouterr().out
    assert "training end to end" in printed and f"{rows[2]['ratio']:7.1%}" in printed


def test_end_to_end_needs_photos(capsys):
    assert main(["bench", "train", "--end-to-end"]) == 2
    assert "--end-to-end reads photos: give --data DIR" in capsys.readouterr().err
