"""`cataract audit`: what is in a photo folder, and what is wrong with it.

Counts, sizes, modes and formats; unreadable files with the reason; exact and near
copies of one photo as groups; copies shared by train and test (leakage, which makes a
test score dishonest) and copies labelled both ways (label conflicts); per class, sample
photos with the earlier project's EDA views (Otsu threshold masks and edge maps). Written
as one self-contained HTML file and as JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cataract_contract import CLASS_NAMES, load_rgb
from train_jax.data.candidates import MAX_DESCRIPTOR_DISTANCE, NEIGHBOURS
from train_jax.data.checks import CopyGroup, find_copy_groups, leaked_test_paths
from train_jax.data.copies import MIN_ALIGNED_CORRELATION, MIN_MATCHED_KEYPOINTS
from train_jax.data.feature_store import FeatureStore
from train_jax.data.scan import ScannedImage, UnreadableFile, discover, read_photos
from train_jax.files import write_atomically

SAMPLES_PER_CLASS = 6


@dataclasses.dataclass
class AuditReport:
    root: str
    counts: dict[str, dict[str, int]]
    unreadable: list[UnreadableFile]
    sizes: dict[str, Any]
    modes: dict[str, int]
    formats: dict[str, int]
    groups: list[CopyGroup]
    scanned: list[tuple[str, ScannedImage]] = dataclasses.field(repr=False)

    @property
    def exact_groups(self) -> list[CopyGroup]:
        return [g for g in self.groups if g.exact]

    @property
    def near_groups(self) -> list[CopyGroup]:
        return [g for g in self.groups if not g.exact]

    @property
    def leakage_groups(self) -> list[CopyGroup]:
        return [g for g in self.groups if {"train", "test"} <= g.splits]

    @property
    def conflict_groups(self) -> list[CopyGroup]:
        return [g for g in self.groups if len(g.labels) > 1]

    def to_json(self) -> dict[str, Any]:
        def groups(items: list[CopyGroup]) -> list[dict]:
            return [{"exact": g.exact, "mirrored": g.mirrored, "members": [dataclasses.asdict(m) for m in g.members]}
                    for g in items]

        return {
            "root": self.root,
            "counts": self.counts,
            "readable": sum(sum(c.values()) for c in self.counts.values()),
            "unreadable": [dataclasses.asdict(u) for u in self.unreadable],
            "sizes": self.sizes,
            "modes": self.modes,
            "formats": self.formats,
            "near_duplicate_rule": (
                f"the {NEIGHBOURS} nearest photos by thumbnail descriptor, of the photo and of its mirror image, "
                f"within cosine distance {MAX_DESCRIPTOR_DISTANCE}, confirmed by >= {MIN_MATCHED_KEYPOINTS} ORB "
                f"keypoints agreeing on one similarity transform (RANSAC) and aligned grey images correlating "
                f">= {MIN_ALIGNED_CORRELATION}"
            ),
            "exact_duplicate_groups": groups(self.exact_groups),
            "near_duplicate_groups": groups(self.near_groups),
            "groups_with_mirrored_copies": sum(g.mirrored for g in self.groups),
            "photos_in_copy_groups": sum(len(g.members) for g in self.groups),
            "leakage": {
                "groups": groups(self.leakage_groups),
                "test_photos_also_in_train": len(leaked_test_paths(self.groups)),
            },
            "label_conflicts": groups(self.conflict_groups),
        }


def audit(root: str | Path, cache: str | Path | None = None, workers: int | None = None) -> AuditReport:
    """Read every photo of ROOT once (features kept in the cache folder's store) and
    report what is in it and what is wrong with it."""
    splits = discover(root)
    split_of = {record.path: split for split, records in splits.items() for record in records}
    result = read_photos([record for records in splits.values() for record in records], "reading and describing photos",
                         store=FeatureStore.in_cache(cache), workers=workers)
    scanned = [(split_of[image.record.path], image) for image in result.scanned]
    unreadable = result.unreadable
    counts = {split: {name: sum(1 for s, i in scanned if s == split and i.record.label == index)
                      for index, name in enumerate(CLASS_NAMES)} for split in splits}
    widths = np.array([image.width for _, image in scanned] or [0])
    heights = np.array([image.height for _, image in scanned] or [0])
    sizes = {
        "width": {"min": int(widths.min()), "median": float(np.median(widths)), "max": int(widths.max())},
        "height": {"min": int(heights.min()), "median": float(np.median(heights)), "max": int(heights.max())},
        "distinct_sizes": len({(image.width, image.height) for _, image in scanned}),
    }
    return AuditReport(
        root=str(root),
        counts=counts,
        unreadable=unreadable,
        sizes=sizes,
        modes=dict(Counter(image.mode for _, image in scanned).most_common()),
        formats=dict(Counter(image.format for _, image in scanned).most_common()),
        groups=find_copy_groups(scanned, workers, progress=True),
        scanned=scanned,
    )


# -- EDA views (the earlier project's thresholding and edge detection) ----------------------


def otsu_threshold(gray: np.ndarray) -> int:
    """The grey level that best separates the histogram into two classes (Otsu, 1979)."""
    histogram = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    total = histogram.sum()
    weight_low = np.cumsum(histogram)
    mean_low = np.cumsum(histogram * np.arange(256))
    weight_high = total - weight_low
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_low[-1] * weight_low / total - mean_low) ** 2 / (weight_low * weight_high / total)
    return int(np.nanargmax(np.where(np.isfinite(between), between, np.nan)))


def otsu_mask(image: Image.Image) -> Image.Image:
    gray = np.asarray(image.convert("L"))
    return Image.fromarray(np.where(gray > otsu_threshold(gray), 255, 0).astype(np.uint8))


def edge_map(image: Image.Image) -> Image.Image:
    """Sobel gradient magnitude, the strongest 15% of pixels shown as edges."""
    gray = np.asarray(image.convert("L"), np.float32)
    padded = np.pad(gray, 1, mode="edge")
    gx = (padded[:-2, 2:] + 2 * padded[1:-1, 2:] + padded[2:, 2:]) - (padded[:-2, :-2] + 2 * padded[1:-1, :-2] + padded[2:, :-2])
    gy = (padded[2:, :-2] + 2 * padded[2:, 1:-1] + padded[2:, 2:]) - (padded[:-2, :-2] + 2 * padded[:-2, 1:-1] + padded[:-2, 2:])
    magnitude = np.hypot(gx, gy)
    threshold = max(float(np.percentile(magnitude, 85)), 1.0)  # flat photos have no edges at all
    return Image.fromarray(np.where(magnitude >= threshold, 255, 0).astype(np.uint8))


def _data_uri(image: Image.Image, side: int = 160) -> str:
    image = image.copy()
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _photo(path: str) -> Image.Image:
    return load_rgb(path)


def write_json(report: AuditReport, path: str | Path) -> None:
    write_atomically(path, (json.dumps(report.to_json(), indent=2) + "\n").encode())


def write_html(report: AuditReport, path: str | Path) -> None:
    facts = report.to_json()
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Dataset audit: {e(report.root)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;max-width:1200px}table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{margin:2px;border:1px solid #ddd}"
        ".bad{color:#b71c1c}.group{margin:10px 0;padding:6px;border-left:4px solid #90a4ae}"
        ".leak{border-color:#e65100}.conflict{border-color:#b71c1c}figure{display:inline-block;margin:4px}"
        "figcaption{font-size:11px;max-width:160px;overflow-wrap:anywhere}</style></head><body>",
        f"<h1>Dataset audit</h1><p><code>{e(report.root)}</code></p>",
        "<h2>Counts</h2><table><tr><th>split</th>" + "".join(f"<th>{c}</th>" for c in CLASS_NAMES) + "</tr>",
    ]
    for split, per_class in report.counts.items():
        parts.append(f"<tr><td>{split}</td>" + "".join(f"<td>{per_class[c]}</td>" for c in CLASS_NAMES) + "</tr>")
    parts.append("</table>")
    summary = {
        "unreadable files": len(report.unreadable),
        "exact duplicate groups": len(report.exact_groups),
        "near duplicate groups": len(report.near_groups),
        "groups holding mirrored copies": facts["groups_with_mirrored_copies"],
        "photos in copy groups": facts["photos_in_copy_groups"],
        "test photos also in train (leakage)": facts["leakage"]["test_photos_also_in_train"],
        "groups labelled both ways": len(report.conflict_groups),
    }
    parts.append("<h2>Findings</h2><table>" + "".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in summary.items()) + "</table>")
    parts.append(f"<p>Near duplicates: {e(facts['near_duplicate_rule'])}.</p>")
    parts.append(f"<h2>Images</h2><p>sizes: {e(json.dumps(report.sizes))}<br>modes: {e(json.dumps(report.modes))}<br>"
                 f"formats: {e(json.dumps(report.formats))}</p>")
    if report.unreadable:
        parts.append("<h2>Unreadable files</h2><ul>" + "".join(
            f"<li class='bad'><code>{e(u.path)}</code>: {e(u.reason)}</li>" for u in report.unreadable) + "</ul>")
    for title, groups, css in (
        ("Leakage: copies in both train and test", report.leakage_groups, "leak"),
        ("Label conflicts: one photo labelled both ways", report.conflict_groups, "conflict"),
        ("All copy groups", report.groups, ""),
    ):
        parts.append(f"<h2>{title} ({len(groups)})</h2>")
        for group in groups:
            figures = "".join(
                f"<figure><img src='{_data_uri(_photo(m.path), 120)}'><figcaption>{m.split}/{m.label}<br>"
                f"{e(Path(m.path).name)}{'<br><b>mirrored</b>' if m.mirrored else ''}</figcaption></figure>"
                for m in group.members)
            kind = "exact" if group.exact else "near (mirrored)" if group.mirrored else "near"
            parts.append(f"<div class='group {css}'>{kind} copies: {figures}</div>")
    parts.append("<h2>Samples per class, with Otsu threshold masks and edge maps</h2>")
    for index, name in enumerate(CLASS_NAMES):
        samples = [image for _, image in report.scanned if image.record.label == index][:SAMPLES_PER_CLASS]
        parts.append(f"<h3>{name}</h3><div>")
        for image in samples:
            photo = _photo(image.record.path)
            parts.append("".join(f"<img src='{_data_uri(view)}' title='{e(image.record.path)}'>"
                                 for view in (photo, otsu_mask(photo), edge_map(photo))) + "<br>")
        parts.append("</div>")
    parts.append("</body></html>")
    write_atomically(path, "\n".join(parts).encode())


def summary_lines(report: AuditReport) -> list[str]:
    facts = report.to_json()
    lines = [f"{report.root}: " + "; ".join(
        f"{split} " + ", ".join(f"{n} {c}" for c, n in per_class.items()) for split, per_class in report.counts.items())]
    lines.append(f"unreadable files: {len(report.unreadable)}")
    lines += [f"  {u.path}: {u.reason}" for u in report.unreadable[:20]]
    lines.append(f"exact duplicate groups: {len(report.exact_groups)}; near duplicate groups: {len(report.near_groups)} "
                 f"({facts['groups_with_mirrored_copies']} holding mirrored copies); "
                 f"photos in copy groups: {facts['photos_in_copy_groups']}")
    lines.append(f"leakage: {facts['leakage']['test_photos_also_in_train']} test photos are copies of training photos "
                 f"({len(report.leakage_groups)} groups)")
    lines.append(f"label conflicts: {len(report.conflict_groups)} groups hold one photo labelled both ways")
    return lines
