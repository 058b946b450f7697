"""Finding copies of one photo: exact (content hash) and near (perceptual hash, confirmed
by matching local features and then pixels).

A perceptual hash alone does not separate copies from look-alikes in scraped eye photos.
Measured on ../shared/datasets/cataract_eyes (476 photos): pairs of DIFFERENT eyes reach a
DCT-hash distance of 8 bits, while recoloured or cropped copies of ONE photo lie at 12-20
bits. So the hash only proposes candidates (distance <= PHASH_CANDIDATE_DISTANCE), and a
candidate is a copy when
1. at least MIN_MATCHED_KEYPOINTS ORB keypoints agree on one similarity transform
   (rotation, scale, shift; RANSAC): on that set, distinct photos reached at most 19 and
   copies at least 27 (3,125 candidate pairs, checked by eye around the threshold); and
2. under that transform the two grey photos correlate (>= MIN_ALIGNED_CORRELATION) where
   they overlap: every eye has an iris and a pupil, and two concentric circles alone can
   line up keypoints of different eyes (seen on drawn eyes, correlation ~0).
That survives resizing, re-encoding, recolouring and crops.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Callable

import numpy as np
from PIL import Image

HASH_SIDE = 32
HASH_LOW_FREQUENCIES = 8
PHASH_CANDIDATE_DISTANCE = 20
MIN_MATCHED_KEYPOINTS = 24
FEATURE_SIDE = 256  # photos are matched at this size (longest side)
GREY_SIDE = 64  # and compared pixel by pixel at this one
MIN_ALIGNED_CORRELATION = 0.5
RATIO_TEST = 0.75
RANSAC_PIXELS = 5.0


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT = _dct_matrix(HASH_SIDE)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def perceptual_hash(image: Image.Image) -> int:
    """64-bit DCT hash of an image, as a Python int."""
    gray = image.convert("L").resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(gray, dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:HASH_LOW_FREQUENCIES, :HASH_LOW_FREQUENCIES].ravel()
    # The DC term says only how bright the photo is; compare the rest to their median.
    bits = low > np.median(low[1:])
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


@dataclasses.dataclass(frozen=True)
class LocalFeatures:
    """ORB keypoint positions (N, 2) and binary descriptors (N, 32) of a photo scaled to
    FEATURE_SIDE, and a small grey copy of it (longest side GREY_SIDE) for comparing
    pixels once two photos are aligned."""

    points: np.ndarray
    descriptors: np.ndarray
    grey: np.ndarray


def local_features(image: Image.Image) -> LocalFeatures:
    import cv2

    gray = image.convert("L")
    # One scale for every photo (small ones enlarged too), so copies give comparable keypoints.
    scale = FEATURE_SIDE / max(gray.size)
    gray = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), Image.Resampling.BILINEAR)
    small = gray.resize((max(1, gray.width * GREY_SIDE // FEATURE_SIDE), max(1, gray.height * GREY_SIDE // FEATURE_SIDE)),
                        Image.Resampling.BOX)
    grey = np.asarray(small, np.float32)
    keypoints, descriptors = cv2.ORB_create(nfeatures=500).detectAndCompute(np.asarray(gray), None)
    if descriptors is None:
        return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), grey)
    return LocalFeatures(np.float32([k.pt for k in keypoints]), descriptors, grey)


def alignment(a: LocalFeatures, b: LocalFeatures) -> tuple[int, np.ndarray | None]:
    """The similarity transform (2x3, a -> b) most keypoint matches agree on, found by
    RANSAC, and how many agree."""
    import cv2

    if len(a.descriptors) < 8 or len(b.descriptors) < 8:
        return 0, None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(a.descriptors, b.descriptors, k=2)
    good = [first for first, *rest in pairs if rest and first.distance < RATIO_TEST * rest[0].distance]
    if len(good) < 3:
        return len(good), None
    source = a.points[[m.queryIdx for m in good]]
    target = b.points[[m.trainIdx for m in good]]
    cv2.setRNGSeed(0)  # RANSAC samples randomly: same photos, same verdict
    transform, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS)
    return (int(inliers.sum()), transform) if inliers is not None else (0, None)


def aligned_correlation(a: LocalFeatures, b: LocalFeatures, transform: np.ndarray) -> float:
    """Correlation of the two grey photos over their overlap once b is mapped onto a."""
    import cv2

    ratio = GREY_SIDE / FEATURE_SIDE
    small = transform.astype(np.float64).copy()
    small[:, 2] *= ratio  # same rotation and scale, translation in small-image pixels
    height, width = a.grey.shape
    warped = cv2.warpAffine(b.grey, small, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=-1)
    covered = warped >= 0
    if covered.mean() < 0.3:
        return 0.0  # too little overlap to call them one photo
    x, y = a.grey[covered] - a.grey[covered].mean(), warped[covered] - warped[covered].mean()
    return float(x @ y / (np.sqrt((x @ x) * (y @ y)) + 1e-6))


def same_photo(a: LocalFeatures, b: LocalFeatures) -> bool:
    """Enough keypoints agree on one similarity transform, and under it the pixels agree."""
    matches, transform = alignment(a, b)
    return matches >= MIN_MATCHED_KEYPOINTS and aligned_correlation(a, b, transform) >= MIN_ALIGNED_CORRELATION



def hamming_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Pairwise bit distances between two uint64 hash vectors, shape (len(hashes), len(others))."""
    xor = hashes[:, None] ^ others[None, :]
    return np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)


def candidate_pairs(perceptual_hashes: list[int], max_distance: int = PHASH_CANDIDATE_DISTANCE) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose hashes differ by at most `max_distance` bits."""
    hashes = np.array(perceptual_hashes, dtype=np.uint64)
    pairs: list[tuple[int, int]] = []
    chunk = 512  # bounds memory at chunk x count distances
    for start in range(0, len(hashes), chunk):
        rows, cols = np.nonzero(hamming_distances(hashes[start : start + chunk], hashes) <= max_distance)
        pairs.extend((int(r + start), int(c)) for r, c in zip(rows, cols) if c > r + start)
    return pairs


class _UnionFind:
    def __init__(self, count: int):
        self.parent = list(range(count))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def duplicate_groups(
    content_hashes: list[str],
    perceptual_hashes: list[int],
    features: Callable[[int], LocalFeatures],
) -> np.ndarray:
    """Group id per photo: photos share an id when they are exact copies, or a hash
    candidate confirmed by matching keypoints, transitively."""
    groups = _UnionFind(len(content_hashes))
    first_with_content: dict[str, int] = {}
    for index, digest in enumerate(content_hashes):
        groups.union(first_with_content.setdefault(digest, index), index)
    for i, j in candidate_pairs(perceptual_hashes):
        if groups.find(i) == groups.find(j):
            continue  # already known to be one photo
        if same_photo(features(i), features(j)):
            groups.union(i, j)
    return np.array([groups.find(i) for i in range(len(content_hashes))])
