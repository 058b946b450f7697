"""The dataset audit on a folder with planted problems, and what train and evaluate do
with leakage and label conflicts."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_cli, tiny_config, train_command
from train_jax.data.audit import audit, edge_map, otsu_mask, otsu_threshold, write_html, write_json
from train_jax.data.checks import check_training_data
from train_jax.evaluation.evaluate import evaluate
from train_jax.training.trainer import train
from train_jax.data.scan import discover, scan
from train_jax.data.synth import draw_eye


def eye(seed: int, cataract: bool) -> Image.Image:
    return draw_eye(np.random.default_rng(1000 + seed), cataract, height=200)


def save(image: Image.Image, path: Path, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """Distinct photos plus exactly these problems: 2 exact-copy groups, 5 near-copy groups
    (resized, re-encoded, cropped, recoloured), 2 of them across train and test, 1 group
    labelled both ways (2 cataract : 1 normal), 2 corrupt files."""
    root = tmp_path_factory.mktemp("planted")
    train, test = root / "train", root / "test"
    for seed in range(12):  # distinct photos, in every split and class
        cataract = seed % 2 == 0
        split = test if seed >= 9 else train
        save(eye(seed, cataract), split / ("cataract" if cataract else "normal") / f"distinct_{seed}.jpg", quality=92)
    a = save(eye(20, True), train / "cataract" / "a.jpg", quality=92)
    shutil.copyfile(a, train / "cataract" / "a_copy.jpg")  # exact
    b = eye(21, False)
    save(b, train / "normal" / "b.png")
    save(b.resize((b.width * 3 // 4, b.height * 3 // 4)), train / "normal" / "b_smaller.png")  # resized
    c = eye(22, True)
    save(c, train / "cataract" / "c.jpg", quality=95)
    save(c, train / "cataract" / "c_reencoded.jpg", quality=35)  # re-encoded
    d = eye(23, False)
    save(d, train / "normal" / "d.jpg", quality=92)
    save(d.crop((6, 6, d.width - 6, d.height - 6)), train / "normal" / "d_cropped.jpg", quality=92)  # 3% crop
    e = save(eye(24, True), train / "cataract" / "e.jpg", quality=92)
    shutil.copyfile(e, test / "cataract" / "e_leaked.jpg")  # exact, across splits
    f = eye(25, False)
    save(f, train / "normal" / "f.jpg", quality=92)
    save(f.resize((f.width // 2, f.height // 2)), test / "normal" / "f_leaked_small.jpg", quality=92)  # near, across
    g = eye(26, True)
    save(g, train / "cataract" / "g.jpg", quality=92)
    save(g, train / "cataract" / "g_again.jpg", quality=80)
    save(Image.fromarray(np.clip(np.asarray(g) * [1.1, 0.95, 0.9], 0, 255).astype(np.uint8)),
         train / "normal" / "g_as_normal.jpg", quality=92)  # recoloured, and labelled the other way
    (train / "normal" / "broken.jpg").write_bytes(a.read_bytes()[:900])
    (train / "cataract" / "notes.jpg").write_text("not a photo")
    return root


def names(group) -> set[str]:
    return {Path(m.path).name for m in group.members}


def drawn_picture_size(path: Path) -> tuple[int, int]:
    """The size of the PNG at `path`, once it is known to decode and to hold a drawing:
    dark ink on a light ground, on more than a sliver of it."""
    with Image.open(path) as image:
        assert image.format == "PNG", path
        pixels = np.asarray(image.convert("L"))
    values, counts = np.unique(pixels, return_counts=True)
    assert pixels.min() < 100 and pixels.max() > 200, f"{path.name}: no contrast, {pixels.min()}..{pixels.max()}"
    assert 1 - counts.max() / pixels.size > 0.02, f"{path.name}: almost all one shade ({values[counts.argmax()]})"
    return image.size


def test_audit_finds_exactly_the_planted_problems(planted, tmp_path):
    report = audit(planted)
    assert sorted(Path(u.path).name for u in report.unreadable) == ["broken.jpg", "notes.jpg"]
    assert sorted(map(sorted, map(names, report.exact_groups))) == [["a.jpg", "a_copy.jpg"], ["e.jpg", "e_leaked.jpg"]]
    assert sorted(map(sorted, map(names, report.near_groups))) == [
        ["b.png", "b_smaller.png"],
        ["c.jpg", "c_reencoded.jpg"],
        ["d.jpg", "d_cropped.jpg"],
        ["f.jpg", "f_leaked_small.jpg"],
        ["g.jpg", "g_again.jpg", "g_as_normal.jpg"],
    ]
    assert not any(name.startswith("distinct") for group in report.groups for name in names(group)), "false group"
    assert sorted(map(sorted, map(names, report.leakage_groups))) == [["e.jpg", "e_leaked.jpg"], ["f.jpg", "f_leaked_small.jpg"]]
    assert [sorted(names(g)) for g in report.conflict_groups] == [["g.jpg", "g_again.jpg", "g_as_normal.jpg"]]

    facts = report.to_json()
    assert facts["leakage"]["test_photos_also_in_train"] == 2
    assert facts["counts"] == {"train": {"cataract": 12, "normal": 10}, "test": {"cataract": 2, "normal": 3}}
    assert facts["formats"] == {"JPEG": 25, "PNG": 2}

    write_json(report, tmp_path / "audit.json")
    write_html(report, tmp_path / "audit.html")
    assert json.loads((tmp_path / "audit.json").read_text())["label_conflicts"][0]["members"]
    page = (tmp_path / "audit.html").read_text()
    assert page.count("data:image/jpeg;base64,") >= 3 * 6 * 2  # samples with masks and edge maps, per class
    assert "e_leaked.jpg" in page and "broken.jpg" in page


def test_cli_prints_the_summary(planted, tmp_path):
    result = run_cli("audit", str(planted), "--html", str(tmp_path / "a.html"))
    assert result.returncode == 0, result.stderr
    assert "leakage: 2 test photos are copies of training photos" in result.stdout
    assert "label conflicts: 1 groups" in result.stdout
    page = (tmp_path / "a.html").read_text()
    # The counts, the findings and the groups the planted folder holds, as the page's tables and headings show them.
    for row in ("<tr><td>train</td><td>12</td><td>10</td></tr>", "<tr><td>test</td><td>2</td><td>3</td></tr>",
                "<tr><td>unreadable files</td><td>2</td></tr>", "<tr><td>exact duplicate groups</td><td>2</td></tr>",
                "<tr><td>near duplicate groups</td><td>5</td></tr>",
                "<tr><td>test photos also in train (leakage)</td><td>2</td></tr>",
                "<tr><td>groups labelled both ways</td><td>1</td></tr>",
                "<h2>Leakage: copies in both train and test (2)</h2>",
                "<h2>Label conflicts: one photo labelled both ways (1)</h2>", "<h2>All copy groups (7)</h2>"):
        assert row in page, row
    for name in ("broken.jpg", "notes.jpg", "e_leaked.jpg", "f_leaked_small.jpg", "g_as_normal.jpg", "d_cropped.jpg"):
        assert name in page, name


def test_label_conflict_policies(planted):
    train, _ = scan(discover(planted)["train"])
    test, _ = scan(discover(planted)["test"])
    dropped = check_training_data(train, test, "drop")
    assert sorted(Path(p).name for p in dropped.dropped) == ["g.jpg", "g_again.jpg", "g_as_normal.jpg"]
    assert len(dropped.usable) == len(train) - 3
    assert sorted(Path(p).name for p in dropped.leaked_test) == ["e_leaked.jpg", "f_leaked_small.jpg"]

    majority = check_training_data(train, test, "majority")
    assert majority.dropped == [] and [(Path(p).name, label) for p, label in majority.relabelled] == [("g_as_normal.jpg", "cataract")]
    relabelled = next(i for i in majority.usable if i.record.path.endswith("g_as_normal.jpg"))
    assert relabelled.record.label == 0


@pytest.mark.slow
def test_train_refuses_leakage_unless_allowed_and_evaluate_reports_both_scores(planted, tmp_path):
    refused = run_cli(*train_command(tiny_config(planted, tmp_path / "refused", epochs=1, batch_size=4)))
    assert refused.returncode == 2
    assert "2 test photos are copies of training photos" in refused.stderr and "--allow-leakage" in refused.stderr

    run = tmp_path / "run"
    train(tiny_config(planted, run, epochs=1, batch_size=4, allow_leakage=True))
    split = json.loads((run / "split.json").read_text())
    assert sorted(Path(p).name for p in split["leaked_test"]) == ["e_leaked.jpg", "f_leaked_small.jpg"]
    assert sorted(Path(p).name for p in split["dropped_label_conflicts"]) == ["g.jpg", "g_again.jpg", "g_as_normal.jpg"]

    evaluate(run, planted / "test")
    report = json.loads((run / "metrics.json").read_text())
    assert sorted(Path(p).name for p in report["leaked_test_photos"]) == ["e_leaked.jpg", "f_leaked_small.jpg"]
    assert report["test_at_threshold"]["count"] == 5
    assert report["test_without_leaked_at_threshold"]["count"] == 3
    for name in ("accuracy", "roc_auc", "sensitivity", "specificity"):
        low, high = report["test_confidence_intervals_95"][name]
        assert 0.0 <= low <= high <= 1.0
    assert 0.0 <= report["test_calibration"]["expected_calibration_error"] <= 1.0
    page = (run / "report.html").read_text()
    assert "2 test photos are copies of training photos" in page and "Thresholds" in page
    # Each plot is a drawn figure of its size (inches x 100 dpi), and the report shows it.
    for plot, size in (("roc_curve.png", (500, 500)), ("precision_recall.png", (500, 500)),
                       ("confusion_matrix.png", (400, 400)), ("reliability.png", (500, 500))):
        assert drawn_picture_size(run / plot) == size, plot
        assert base64.b64encode((run / plot).read_bytes()).decode() in page, plot


def test_eda_views():
    gray = np.zeros((20, 20), np.uint8)
    gray[:, 10:] = 200
    assert 0 <= otsu_threshold(gray) < 200
    image = Image.fromarray(np.stack([gray] * 3, -1))
    mask = np.asarray(otsu_mask(image))
    assert mask[:, :10].max() == 0 and mask[:, 10:].min() == 255
    edges = np.asarray(edge_map(image))
    assert edges[:, 9:11].min() == 255 and edges[:, :5].max() == 0
