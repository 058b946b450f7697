"""Finding copies of one photo: exact (content hash) and near (perceptual hash).

The train/validation split keeps every group on one side, and the audit reports the
groups. The perceptual hash is the DCT hash ("pHash"): the sign pattern of the lowest
8x8 frequencies of a 32x32 grayscale thumbnail, which survives resizing, re-encoding,
brightness changes and slight crops.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

HASH_SIDE = 32
HASH_LOW_FREQUENCIES = 8
# Hamming distance (of 64 bits) at or below which two photos count as one. Chosen on
# planted copies (resized, re-encoded, 3% crops land at 0-8) against distinct eye photos.
NEAR_DUPLICATE_MAX_DISTANCE = 8


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


def hamming_distances(hashes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Pairwise bit distances between two uint64 hash vectors, shape (len(hashes), len(others))."""
    xor = hashes[:, None] ^ others[None, :]
    return np.unpackbits(xor.view(np.uint8).reshape(*xor.shape, 8), axis=-1).sum(axis=-1)


def duplicate_groups(
    content_hashes: list[str],
    perceptual_hashes: list[int],
    max_distance: int = NEAR_DUPLICATE_MAX_DISTANCE,
) -> np.ndarray:
    """Group id per image: images share an id when linked by equal content or by a
    perceptual distance <= max_distance, transitively (union-find)."""
    count = len(content_hashes)
    parent = np.arange(count)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        root_i, root_j = find(i), find(j)
        if root_i != root_j:
            parent[max(root_i, root_j)] = min(root_i, root_j)

    first_with_content: dict[str, int] = {}
    for index, digest in enumerate(content_hashes):
        union(first_with_content.setdefault(digest, index), index)

    hashes = np.array(perceptual_hashes, dtype=np.uint64)
    chunk = 512  # bounds memory at chunk x count distances
    for start in range(0, count, chunk):
        distances = hamming_distances(hashes[start : start + chunk], hashes)
        rows, cols = np.nonzero(distances <= max_distance)
        for row, col in zip(rows + start, cols):
            if col > row:
                union(int(row), int(col))
    return np.array([find(i) for i in range(count)])
