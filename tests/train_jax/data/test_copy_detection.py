"""Copy detection at scale: planted copies of every kind found and look-alikes not, the
neighbour search in both orientations, the feature cache, worker processes, the real
photos' groups, and `cataract bench audit`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPOSITORY, run_cli
from train_jax.data.audit import audit, write_html, write_json
from train_jax.data.candidates import candidate_pairs
from train_jax.data.checks import copy_groups
from train_jax.data.copies import DESCRIPTOR_SIZE, mirrored_descriptors
from train_jax.data.feature_store import FeatureStore
from train_jax.data.planted import COPY_KINDS, LOOK_ALIKE, CollectionPlan, build_collection, score
from train_jax.data.scan import discover, read_photos
from train_jax.data.synth import draw_eye
from train_jax.data.workers import in_workers
from train_jax.errors import UserError

REAL_GROUPS = REPOSITORY / "tests" / "data" / "real_photo_copy_groups.json"


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list]:
    """300 photos: 210 distinct, 60 copies (7-8 of each kind), 30 look-alikes."""
    folder = tmp_path_factory.mktemp("planted") / "photos"
    return folder, build_collection(folder, CollectionPlan(300, seed=3, photo_height=192, copy_share=0.2,
                                                           look_alike_share=0.1), workers=2)


def relative_groups(folder: Path, report) -> dict[str, int]:
    """Group number by path relative to the collection; photos in no group get their own."""
    group_of = {str(Path(image.record.path).relative_to(folder)): -index - 1 for index, (_, image) in enumerate(report.scanned)}
    for number, group in enumerate(report.groups):
        for member in group.members:
            group_of[str(Path(member.path).relative_to(folder))] = number
    return group_of


def test_every_kind_of_planted_copy_is_found_and_no_look_alike_is(planted, tmp_path):
    folder, photos = planted
    report = audit(folder, cache=tmp_path / "cache", workers=2)
    found = score(photos, relative_groups(folder, report))
    assert {kind: found.recall(kind) for kind in COPY_KINDS} == {kind: 1.0 for kind in COPY_KINDS}
    assert found.look_alikes_grouped == (0, sum(photo.kind == LOOK_ALIKE for photo in photos))
    assert found.false_groups == 0 and found.pair_precision == 1.0
    assert found.groups == sum(found.found[kind][1] for kind in COPY_KINDS)  # each copy with its original, and nothing else

    # A mirrored copy faces the other way from its original; the reports say so.
    member = {str(Path(m.path).relative_to(folder)): m for group in report.groups for m in group.members}
    for photo in photos:
        if photo.kind in COPY_KINDS:
            assert (member[photo.path].mirrored != member[photo.of].mirrored) == photo.kind.startswith("mirrored"), photo
    facts = report.to_json()
    mirrored_copies = sum(found.found[kind][1] for kind in ("mirrored", "mirrored and cropped"))
    assert facts["groups_with_mirrored_copies"] == mirrored_copies
    write_json(report, tmp_path / "audit.json")
    write_html(report, tmp_path / "audit.html")
    assert sum(group["mirrored"] for group in json.loads((tmp_path / "audit.json").read_text())["near_duplicate_groups"]) \
        == mirrored_copies
    assert (tmp_path / "audit.html").read_text().count("<b>mirrored</b>") == mirrored_copies


@pytest.mark.slow
def test_workers_and_the_cache_change_nothing_but_the_time(planted, tmp_path):
    folder, _ = planted
    records = discover(folder)["train"]
    inline = read_photos(records, store=FeatureStore.in_cache(tmp_path / "a"), workers=0)
    parallel = read_photos(records, store=FeatureStore.in_cache(tmp_path / "b"), workers=2)
    distinct = len({image.content_hash for image in inline.scanned})
    assert inline.described == distinct <= parallel.described <= len(records)  # workers may each describe one exact copy
    assert [i.content_hash for i in inline.scanned] == [i.content_hash for i in parallel.scanned]
    assert all(np.array_equal(a.thumbnail.descriptor, b.thumbnail.descriptor) and a.thumbnail.perceptual_hash ==
               b.thumbnail.perceptual_hash for a, b in zip(inline.scanned, parallel.scanned))
    in_process, in_workers = copy_groups(inline.scanned, workers=0), copy_groups(parallel.scanned, workers=2)
    assert in_process.candidate_pairs >= 500, "enough pairs for the verification to use its workers"
    assert np.array_equal(in_process.ids, in_workers.ids) and np.array_equal(in_process.mirrored, in_workers.mirrored)


def test_a_second_read_describes_only_the_new_photos(tmp_path):
    folder = tmp_path / "photos" / "normal"
    folder.mkdir(parents=True)
    for seed in range(30):
        draw_eye(np.random.default_rng(seed), False, height=96).save(folder / f"p{seed}.jpg")
    store = FeatureStore.in_cache(tmp_path / "cache")
    first = read_photos(discover(tmp_path / "photos")["train"], store=store, workers=0)
    assert first.described == 30
    for seed in range(30, 34):
        draw_eye(np.random.default_rng(seed), False, height=96).save(folder / f"p{seed}.jpg")
    again = read_photos(discover(tmp_path / "photos")["train"], store=FeatureStore.in_cache(tmp_path / "cache"), workers=0)
    assert again.described == 4 and len(again.scanned) == 34
    before = {image.content_hash: image for image in first.scanned}
    for image in again.scanned:
        if image.content_hash in before:
            assert image.features == before[image.content_hash].features  # read from the store, not described again
            assert np.array_equal(image.thumbnail.descriptor, before[image.content_hash].thumbnail.descriptor)


def test_a_damaged_cache_is_skipped_and_refilled_and_a_named_unwritable_one_is_a_clear_error(tmp_path, caplog):
    folder = tmp_path / "photos" / "cataract"
    folder.mkdir(parents=True)
    for seed in range(3):
        draw_eye(np.random.default_rng(seed), True, height=96).save(folder / f"p{seed}.png")
    records = discover(tmp_path / "photos")["train"]
    store = FeatureStore.in_cache(tmp_path / "cache")
    read_photos(records, store=store, workers=0)
    (shard,) = store.folder.glob("shard-*")
    (shard / "offsets.npy").write_bytes(b"not an array")
    again = read_photos(records, store=FeatureStore.in_cache(tmp_path / "cache"), workers=0)
    assert again.described == 3 and "ignoring damaged feature shard" in caplog.text
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(UserError, match="cannot write the feature cache"):
        FeatureStore.in_cache(blocked)


def test_the_search_proposes_neighbours_by_either_fingerprint_as_they_are_and_mirrored():
    rng = np.random.default_rng(0)
    descriptors = rng.standard_normal((60, DESCRIPTOR_SIZE)).astype(np.float32)  # random: none near another
    descriptors[50] = mirrored_descriptors(descriptors[20])  # photo 50 is photo 20's mirror image
    descriptors[51] = descriptors[30] + 0.05 * rng.standard_normal(DESCRIPTOR_SIZE)  # and 51 a near copy of 30
    descriptors /= np.linalg.norm(descriptors, axis=1, keepdims=True)
    hadamard = np.ones((1, 1))
    for _ in range(6):
        hadamard = np.block([[hadamard, hadamard], [hadamard, -hadamard]])
    codes = hadamard > 0  # 64 codes, 32 bits apart; their complements serve as the mirror images' hashes
    hashes = np.stack([np.packbits(codes[:60], axis=1).view(">u8")[:, 0], np.packbits(~codes[:60], axis=1).view(">u8")[:, 0]], 1)
    hashes = hashes.astype(np.uint64)
    hashes[52, 0] = hashes[10, 0] ^ np.uint64(0b10110001)  # photo 52 hashes 4 bits from photo 10
    hashes[53, 0] = hashes[11, 1] ^ np.uint64(0b111)  # and 53 3 bits from photo 11's mirror image
    hashes[53, 1] = hashes[11, 0] ^ np.uint64(0b111)
    pairs = candidate_pairs(descriptors, hashes)
    found = set(zip(pairs.first.tolist(), pairs.second.tolist(), pairs.mirrored.tolist()))
    assert found == {(20, 50, True), (30, 51, False), (10, 52, False), (11, 53, True)}
    again = candidate_pairs(descriptors, hashes, threads=2)
    assert np.array_equal(again.first, pairs.first) and np.array_equal(again.distance, pairs.distance)


def test_real_photos_keep_every_group_of_the_all_pairs_search_and_join_only_what_was_checked_by_eye(real_photos, tmp_path):
    expected = json.loads(REAL_GROUPS.read_text())
    report = audit(real_photos, cache=tmp_path / "cache", workers=2)
    found = {str(Path(m.path).relative_to(real_photos / "train")): (number, m.mirrored)
             for number, group in enumerate(report.groups) for m in group.members}
    for group in expected["all_pairs_search"]:
        assert len({found.get(photo, (photo, None))[0] for photo in group}) == 1, f"group split: {group}"
    # The groups are exactly those, joined by the links checked by eye: no unreviewed link.
    joined = [set(group) for group in expected["all_pairs_search"]]
    for link in expected["links_checked_by_eye"]:
        touching = [group for group in joined if group & set(link["photos"])]
        joined = [group for group in joined if group not in touching] + [set().union(set(link["photos"]), *touching)]
    assert sorted(map(sorted, joined)) == sorted(sorted(str(Path(m.path).relative_to(real_photos / "train")) for m in group.members)
                                                 for group in report.groups)
    for link in expected["links_checked_by_eye"]:
        first, second = link["photos"]
        assert (found[first][1] != found[second][1]) == link["mirrored"], link


def test_bench_audit_prints_rates_recall_and_the_extrapolation(tmp_path):
    result = run_cli("bench", "audit", "--n", "80", "--photo-height", "96", "--copy-share", "0.2", "--workers", "0",
                     "--json", str(tmp_path / "bench.json"))
    assert result.returncode == 0, result.stderr
    for text in ("read, hash and decode", "candidates", "verification", "mirrored and cropped", "false groups",
                 "100,000 photos, as measured"):
        assert text in result.stdout
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["photos"] == 80 and set(figures["recall"]) == set(COPY_KINDS)
    assert figures["warm_described"] == 0, "the second read finds every photo in the cache"


def test_a_worker_process_that_dies_is_a_clear_error():
    with pytest.raises(UserError, match="a worker process died"):
        list(in_workers(os._exit, [3], workers=1))
