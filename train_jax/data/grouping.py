"""Copies of one photo as groups: exact copies by content hash, near copies by a
neighbour search (candidates.py) whose pairs `same_photo` confirms (copies.py), joined
transitively. Each photo also learns whether it faces the other way from its group's
first photo, so a report can say which copies are mirrored.

Cost: the search grows as n log n; each photo brings at most 4 x NEIGHBOURS pairs to
verify (two fingerprints, two orientations), fewer once its group is known (a pair
already joined is not verified again; the closest pairs go first, so groups form early).
The verification runs in worker processes, which read the features from the store by
location.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np
from tqdm import tqdm

from train_jax.data.candidates import CandidatePairs, candidate_pairs
from train_jax.data.copies import DESCRIPTOR_SIZE, Thumbnail, same_photo
from train_jax.data.feature_store import FeatureLocation, store_at
from train_jax.data.workers import Cost, Stopwatch, in_workers

PAIRS_PER_TASK = 64
MIN_PAIRS_FOR_WORKERS = 500  # below this, starting processes costs more than it saves

PairToVerify = tuple[FeatureLocation, FeatureLocation, bool]


@dataclasses.dataclass(frozen=True)
class Grouping:
    ids: np.ndarray  # group id per photo: the lowest index in its group
    mirrored: np.ndarray  # per photo: it faces the other way from its group's first photo
    candidate_pairs: int  # pairs the search proposed
    verified_pairs: int  # pairs verified (the others were already known to be one photo)
    candidate_cost: Cost
    verification_cost: Cost


def duplicate_groups(content_hashes: list[str], thumbnails: list[Thumbnail], features: list[FeatureLocation],
                     workers: int = 0, progress: bool = False) -> Grouping:
    """Group the photos whose content hashes, thumbnails and stored features are given."""
    groups = _OrientedUnionFind(len(content_hashes))
    first_with_content: dict[str, int] = {}
    for index, digest in enumerate(content_hashes):
        groups.union(first_with_content.setdefault(digest, index), index, mirrored=False)
    # One photo per content: identical fingerprints would fill each other's neighbour lists.
    distinct = np.array(sorted(first_with_content.values()), dtype=np.int64)
    stopwatch = Stopwatch()
    pairs = candidate_pairs(
        np.array([thumbnails[i].descriptor for i in distinct], np.float32).reshape(-1, DESCRIPTOR_SIZE),
        np.array([(thumbnails[i].perceptual_hash, thumbnails[i].mirrored_perceptual_hash) for i in distinct], np.uint64),
        threads=max(1, workers), progress=progress)
    candidate_cost = stopwatch.cost()

    stopwatch, verified = Stopwatch(), 0
    tasks = _unjoined_pairs(pairs, distinct, groups, features)
    with tqdm(total=len(pairs), desc="verifying candidate pairs", unit="pair", leave=False, disable=not progress) as bar:
        for batch, verdicts in in_workers(verify_pairs, tasks, workers if len(pairs) >= MIN_PAIRS_FOR_WORKERS else 0):
            for (first, second, mirrored), same in zip(batch.indices, verdicts):
                if same:
                    groups.union(first, second, mirrored)
            verified += len(batch.indices)
            bar.update(batch.proposed)
    roots = [groups.find(index) for index in range(len(content_hashes))]
    return Grouping(np.array([root for root, _ in roots], dtype=np.int64), np.array([flip for _, flip in roots], dtype=bool),
                    len(pairs), verified, candidate_cost, stopwatch.cost())


@dataclasses.dataclass(frozen=True)
class _Batch:
    """Pairs for one worker task: their photo indices, and where their features are."""

    indices: list[tuple[int, int, bool]]
    pairs: list[PairToVerify]
    proposed: int  # candidate pairs this batch accounts for, the skipped ones included


def _unjoined_pairs(pairs: CandidatePairs, distinct: np.ndarray, groups: _OrientedUnionFind,
                    features: list[FeatureLocation]) -> Iterator[_Batch]:
    """Batches of the candidate pairs not yet known to be one photo, judged when the batch
    is taken: by then the verdicts of earlier batches count."""
    for start in range(0, len(pairs), PAIRS_PER_TASK):
        indices = [(int(distinct[first]), int(distinct[second]), bool(mirrored)) for first, second, mirrored in
                   zip(pairs.first[start : start + PAIRS_PER_TASK], pairs.second[start : start + PAIRS_PER_TASK],
                       pairs.mirrored[start : start + PAIRS_PER_TASK])]
        unjoined = [pair for pair in indices if groups.find(pair[0])[0] != groups.find(pair[1])[0]]
        yield _Batch(unjoined, [(features[first], features[second], mirrored) for first, second, mirrored in unjoined],
                     len(indices))


def verify_pairs(batch: _Batch) -> list[bool]:
    """Verdicts for a batch of pairs: is the first photo (mirrored, where the pair says so)
    the second one? Runs in a worker process."""
    verdicts = []
    for first, second, mirrored in batch.pairs:
        verdicts.append(same_photo(store_at(first.folder).local_features(first, mirrored),
                                   store_at(second.folder).local_features(second)))
    return verdicts


class _OrientedUnionFind:
    """Union-find whose nodes also know their orientation relative to their root: a
    mirrored link joins two photos facing opposite ways."""

    def __init__(self, count: int):
        self.parent = list(range(count))
        self.flipped = [False] * count  # relative to the parent

    def find(self, i: int) -> tuple[int, bool]:
        path = []
        while self.parent[i] != i:
            path.append(i)
            i = self.parent[i]
        root, flip = i, False
        for node in reversed(path):  # nearest the root first: its flip to the root is known next
            flip ^= self.flipped[node]
            self.parent[node], self.flipped[node] = root, flip
        return root, (self.flipped[path[0]] if path else False)

    def union(self, i: int, j: int, mirrored: bool) -> None:
        (a, flip_a), (b, flip_b) = self.find(i), self.find(j)
        if a == b:
            return
        low, high = min(a, b), max(a, b)
        self.parent[high], self.flipped[high] = low, flip_a ^ flip_b ^ mirrored
