"""Which pairs of photos are worth verifying: each photo's few nearest neighbours, of the
photo as it is and of its mirror image, by two fingerprints of its thumbnail (copies.py):
the descriptor (cosine; finds rotated copies) and the perceptual hash (Hamming; finds
heavily cropped, zoomed and bordered copies the descriptor ranks too far).

The indexes are faiss's HNSW graphs (faiss-cpu: MIT licence, one wheel, kept by Meta's
FAISS team; float and binary, exact and graph indexes behind one API): building and
searching them grow as n log n, where comparing every pair grows as n². Measured on this
2-core machine (shared with other work) with 100,000 random unit vectors of 208 floats
and 200,000 queries (each photo and its mirror image), 5 neighbours each: the exact flat
index took 135 s, HNSW 73 s; at 20,000, 6.1 s and 3.9 s; the gap widens with n. A graph
is built on one thread, so it, and the audit's answer, is the same every run; the
searches run on all the threads given.

Only neighbours within MAX_DESCRIPTOR_DISTANCE (cosine distance) or MAX_HASH_DISTANCE
(bits) are kept. On ../shared/datasets/cataract_eyes, every copy the quadratic search of
all pairs within 20 bits confirmed is a neighbour by one fingerprint or the other; the
planted copies (resized, re-encoded, cropped, recoloured, rotated 5°, mirrored) lie
within 0.1 of their originals by descriptor.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Callable

import numpy as np
from tqdm import tqdm

from train_jax.data.copies import mirrored_descriptors

# Per photo, orientation and fingerprint. On ../shared/datasets/cataract_eyes, 3 finds the
# same 81 groups as 5 with 28% fewer pairs to verify, and 2 loses one; verification is the
# audit's largest cost (tests/test_copy_detection.py keeps those groups).
NEIGHBOURS = 3
MAX_DESCRIPTOR_DISTANCE = 0.30
MAX_HASH_DISTANCE = 20  # of 64 bits
HASH_BITS = 64
GRAPH_LINKS = 32  # HNSW's M: links per node
GRAPH_SEARCH_DEPTH = 64  # HNSW's efSearch: candidates kept while searching (more: slower, fewer misses)
BATCH = 8192  # fingerprints added or searched at a time: bounds the result arrays


@dataclasses.dataclass(frozen=True)
class CandidatePairs:
    """Pairs (first < second) to verify, closest first. `mirrored`: the first photo's
    mirror image looks like the second photo. `distance`: cosine distance of the
    descriptors, or the share of differing hash bits, whichever proposed the pair."""

    first: np.ndarray
    second: np.ndarray
    mirrored: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.first)


def candidate_pairs(descriptors: np.ndarray, hashes: np.ndarray, threads: int = 1, progress: bool = False) -> CandidatePairs:
    """The neighbour pairs among photos with unit descriptors (n, d) and perceptual hashes
    (n, 2) uint64 (of each photo and of its mirror image)."""
    import faiss

    if len(descriptors) < 2:
        return _pairs(np.zeros((0, 4)))
    descriptors = np.ascontiguousarray(descriptors, dtype=np.float32)
    codes = np.ascontiguousarray(np.asarray(hashes, dtype=">u8")).view(np.uint8).reshape(len(hashes), 2, HASH_BITS // 8)
    batches = 3 * -(-len(descriptors) // BATCH)  # per index: adding, searching, searching mirrored
    with tqdm(total=2 * batches, desc="finding candidate pairs", unit="batch", leave=False, disable=not progress) as bar:
        by_descriptor = _neighbours(faiss.IndexHNSWFlat(descriptors.shape[1], GRAPH_LINKS, faiss.METRIC_INNER_PRODUCT),
                                    descriptors, np.ascontiguousarray(mirrored_descriptors(descriptors)),
                                    lambda similarity: 1 - similarity, MAX_DESCRIPTOR_DISTANCE, threads, bar)
        by_hash = _neighbours(faiss.IndexBinaryHNSW(HASH_BITS, GRAPH_LINKS), np.ascontiguousarray(codes[:, 0]),
                              np.ascontiguousarray(codes[:, 1]), lambda bits: bits / HASH_BITS, MAX_HASH_DISTANCE / HASH_BITS,
                              threads, bar)
    return _pairs(np.concatenate([by_descriptor, by_hash]))


def _neighbours(index, vectors: np.ndarray, mirrored: np.ndarray, to_distance: Callable[[np.ndarray], np.ndarray],
                max_distance: float, threads: int, bar: tqdm) -> np.ndarray:
    """Rows (photo, neighbour, mirrored, distance) of each photo's NEIGHBOURS nearest
    within max_distance, found for the photo and for its mirror image."""
    index.hnsw.efSearch = max(GRAPH_SEARCH_DEPTH, NEIGHBOURS + 1)
    with _faiss_threads(1):
        for start in range(0, len(vectors), BATCH):
            index.add(vectors[start : start + BATCH])
            bar.update()
    found = []
    with _faiss_threads(threads):
        for is_mirrored, queries in ((False, vectors), (True, mirrored)):
            for start in range(0, len(queries), BATCH):
                distance, neighbour = index.search(queries[start : start + BATCH], NEIGHBOURS + 1)  # + 1: a photo finds itself
                photo = np.repeat(np.arange(start, start + len(neighbour)), NEIGHBOURS + 1)
                rows = np.stack([photo, neighbour.ravel(), np.full(photo.shape, is_mirrored), to_distance(distance.ravel())], 1)
                found.append(rows[(rows[:, 1] >= 0) & (rows[:, 1] != rows[:, 0]) & (rows[:, 3] <= max_distance)])
                bar.update()
    return np.concatenate(found)


def _pairs(found: np.ndarray) -> CandidatePairs:
    """Each pair once (i's mirror ~ j is j's mirror ~ i, and both fingerprints may propose
    it), closest first."""
    query, neighbour, mirrored, distance = found.T
    first, second = np.minimum(query, neighbour).astype(np.int64), np.maximum(query, neighbour).astype(np.int64)
    order = np.lexsort((distance, mirrored, second, first))
    first, second, mirrored, distance = first[order], second[order], mirrored[order].astype(bool), distance[order]
    unique = np.ones(len(first), bool)
    unique[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1]) | (mirrored[1:] != mirrored[:-1])
    closest = np.argsort(distance[unique], kind="stable")
    return CandidatePairs(first[unique][closest], second[unique][closest], mirrored[unique][closest],
                          distance[unique][closest].astype(np.float32))


@contextlib.contextmanager
def _faiss_threads(threads: int):
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
