"""Whether two photos are one photo: the features that decide it, and the verdict.

Three kinds of evidence, cheapest first:
- the content hash (SHA-256 of the file) finds exact copies;
- two fingerprints of a 32x32 grey thumbnail let indexes propose, for each photo, the few
  photos that look most like it or like its mirror image (candidates.py): a descriptor
  of 208 numbers compared by cosine (survives rotations), and a 64-bit DCT perceptual
  hash compared by Hamming distance (survives heavy crops, zooms and borders); they are
  cheap, and alone they cannot tell copies from look-alikes;
- local features settle each proposed pair: `same_photo`, the final word.

Measured on ../shared/datasets/cataract_eyes (476 photos): pairs of DIFFERENT eyes reach a
DCT-hash distance of 8 bits, while recoloured or cropped copies of ONE photo lie at 12-20
bits, so no global fingerprint separates them. A proposed pair is one photo when
1. at least MIN_MATCHED_KEYPOINTS ORB keypoints agree on one similarity transform
   (rotation, scale, shift; RANSAC): on that set, distinct photos reached at most 19 and
   copies at least 27 (3,125 candidate pairs, checked by eye around the threshold); and
2. under that transform the two grey photos correlate (>= MIN_ALIGNED_CORRELATION) where
   they overlap: every eye has an iris and a pupil, and two concentric circles alone can
   line up keypoints of different eyes (seen on drawn eyes, correlation ~0).
That survives resizing, re-encoding, recolouring, crops and small rotations. A mirrored
copy is the same test against the features of the mirrored photo, which every photo
carries (PhotoFeatures.mirrored). Rechecked after smooth photos got lower corner
thresholds (more keypoints, see _orb_keypoints): among 11,983 neighbour pairs of those
photos (10 per photo, fingerprint and orientation, no distance limit), every pair
reaching 24 inliers was one photo, checked by eye; among the drawn eyes of `cataract
bench audit`, no pair of different photos did (look-alikes included).
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
from PIL import Image

HASH_LOW_FREQUENCIES = 8
MIN_MATCHED_KEYPOINTS = 24
FEATURE_SIDE = 256  # photos are matched at this size (longest side)
GREY_SIDE = 64  # and compared pixel by pixel at this one
MIN_ALIGNED_CORRELATION = 0.5
RATIO_TEST = 0.75
RANSAC_PIXELS = 5.0
ORB_KEYPOINTS = 500
CORNER_THRESHOLDS = (20, 10, 5)  # FAST contrast thresholds, ORB's default first
MIN_KEYPOINTS = 200  # fewer than this: the next, lower threshold

# Both fingerprints start from the grey photo squeezed to THUMBNAIL_SIDE x THUMBNAIL_SIDE.
# The descriptor: the thumbnail averaged to 16x16 cells, and only the cells inside the inscribed ellipse kept (208 of 256): without the corners, a 5°
# rotation or a crop of a few percent barely moves it. Centred and scaled to unit length,
# so brightness and contrast do not count and the inner product is the cosine.
THUMBNAIL_SIDE = 32
DESCRIPTOR_GRID = 16
_cell_y, _cell_x = (np.mgrid[:DESCRIPTOR_GRID, :DESCRIPTOR_GRID] + 0.5 - DESCRIPTOR_GRID / 2) / (DESCRIPTOR_GRID / 2)
DESCRIPTOR_CELLS = _cell_x**2 + _cell_y**2 <= 1.0
DESCRIPTOR_SIZE = int(DESCRIPTOR_CELLS.sum())
# The ellipse is symmetric, so the mirror image's descriptor is a reordering of the photo's own.
_cell_number = np.full(DESCRIPTOR_CELLS.shape, -1)
_cell_number[DESCRIPTOR_CELLS] = np.arange(DESCRIPTOR_SIZE)
MIRROR_ORDER = _cell_number[:, ::-1][DESCRIPTOR_CELLS]


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    matrix[0] /= np.sqrt(2.0)
    return matrix


_DCT = _dct_matrix(THUMBNAIL_SIDE)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclasses.dataclass(frozen=True)
class Thumbnail:
    """The fingerprints the candidate search compares, of the photo and of its mirror image."""

    descriptor: np.ndarray  # (DESCRIPTOR_SIZE,) float32, unit length; the mirror's is a reordering (mirrored_descriptors)
    perceptual_hash: int  # 64 bits
    mirrored_perceptual_hash: int


def thumbnail(image: Image.Image) -> Thumbnail:
    """The fingerprints of a photo (photo_features takes them from the photo at
    FEATURE_SIDE: the thumbnail is the same, for a fraction of the work)."""
    pixels = np.asarray(image.convert("L").resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BILINEAR), np.float32)
    return Thumbnail(_descriptor(pixels), _perceptual_hash(pixels), _perceptual_hash(pixels[:, ::-1]))


def _descriptor(pixels: np.ndarray) -> np.ndarray:
    block = THUMBNAIL_SIDE // DESCRIPTOR_GRID
    cells = pixels.reshape(DESCRIPTOR_GRID, block, DESCRIPTOR_GRID, block).mean(axis=(1, 3))[DESCRIPTOR_CELLS]
    cells -= cells.mean()
    return (cells / (np.linalg.norm(cells) + 1e-6)).astype(np.float32)


def _perceptual_hash(pixels: np.ndarray) -> int:
    """64-bit DCT hash of a thumbnail, as a Python int."""
    low = (_DCT @ pixels.astype(np.float64) @ _DCT.T)[:HASH_LOW_FREQUENCIES, :HASH_LOW_FREQUENCIES].ravel()
    # The DC term says only how bright the photo is; compare the rest to their median.
    bits = low > np.median(low[1:])
    return int(np.packbits(bits.astype(np.uint8)).view(">u8")[0])


@dataclasses.dataclass(frozen=True)
class LocalFeatures:
    """ORB keypoint positions (N, 2) and binary descriptors (N, 32) of a photo scaled to
    FEATURE_SIDE, and a small grey copy of it (longest side GREY_SIDE, uint8) for
    comparing pixels once two photos are aligned."""

    points: np.ndarray
    descriptors: np.ndarray
    grey: np.ndarray


@dataclasses.dataclass(frozen=True)
class PhotoFeatures:
    """Everything copy detection needs of one photo, computed from one decode."""

    thumbnail: Thumbnail
    local: LocalFeatures
    mirrored: LocalFeatures  # of the photo flipped left to right


def photo_features(image: Image.Image) -> PhotoFeatures:
    grey = _at_feature_side(image)
    small = _small_grey(grey)
    points, descriptors, threshold = _orb_keypoints(grey, CORNER_THRESHOLDS)
    mirrored = _orb_keypoints(grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (threshold,))  # the same corners, mirrored
    return PhotoFeatures(thumbnail(grey), LocalFeatures(points, descriptors, small),
                         LocalFeatures(mirrored[0], mirrored[1], small[:, ::-1].copy()))


def _at_feature_side(image: Image.Image) -> Image.Image:
    """The grey photo at one scale for every photo (small ones enlarged too), so that
    copies give comparable keypoints."""
    grey = image.convert("L")
    scale = FEATURE_SIDE / max(grey.size)
    return grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BILINEAR)


def _small_grey(grey: Image.Image) -> np.ndarray:
    size = (max(1, grey.width * GREY_SIDE // FEATURE_SIDE), max(1, grey.height * GREY_SIDE // FEATURE_SIDE))
    return np.asarray(grey.resize(size, Image.Resampling.BOX))


def _orb_keypoints(grey: Image.Image, thresholds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Positions (N, 2) and binary descriptors (N, 32) of the ORB keypoints, and the
    corner threshold that found them. A smooth or blurred photo gives few corners at ORB's
    usual contrast threshold, too few for a copy to reach MIN_MATCHED_KEYPOINTS (drawn
    eyes: 17-29 keypoints); such photos are looked at again with lower thresholds."""
    import cv2

    pixels = np.asarray(grey)
    for threshold in thresholds:
        keypoints, descriptors = cv2.ORB_create(nfeatures=ORB_KEYPOINTS, fastThreshold=threshold).detectAndCompute(pixels, None)
        if len(keypoints) >= MIN_KEYPOINTS:
            break
    if descriptors is None:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), threshold
    return np.float32([k.pt for k in keypoints]).reshape(-1, 2), descriptors, threshold


def mirrored_descriptors(descriptors: np.ndarray) -> np.ndarray:
    """The descriptors of the photos flipped left to right, shape as given."""
    return descriptors[..., MIRROR_ORDER]


def alignment(a: LocalFeatures, b: LocalFeatures) -> tuple[int, np.ndarray | None]:
    """The similarity transform (2x3, a -> b) most keypoint matches agree on, found by
    RANSAC, and how many agree."""
    import cv2
    import faiss

    if len(a.descriptors) < 8 or len(b.descriptors) < 8:
        return 0, None
    # Each keypoint of a, its two nearest in b by Hamming distance (faiss: the same
    # matches as OpenCV's brute-force matcher, 3x faster), kept when the nearest is clearly
    # nearer than the second (Lowe's ratio test).
    index = faiss.IndexBinaryFlat(a.descriptors.shape[1] * 8)
    index.add(np.ascontiguousarray(b.descriptors))
    distance, nearest = index.search(np.ascontiguousarray(a.descriptors), 2)
    good = (nearest[:, 1] >= 0) & (distance[:, 0] < RATIO_TEST * distance[:, 1])
    if good.sum() < MIN_MATCHED_KEYPOINTS:
        return int(good.sum()), None  # too few matches for enough to agree: no need to look for a transform
    source, target = a.points[good], b.points[nearest[good, 0]]
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
    warped = cv2.warpAffine(b.grey.astype(np.float32), small, (width, height),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=-1)
    covered = warped >= 0
    if covered.mean() < 0.3:
        return 0.0  # too little overlap to call them one photo
    grey = a.grey.astype(np.float32)
    x, y = grey[covered] - grey[covered].mean(), warped[covered] - warped[covered].mean()
    return float(x @ y / (np.sqrt((x @ x) * (y @ y)) + 1e-6))


def same_photo(a: LocalFeatures, b: LocalFeatures) -> bool:
    """Enough keypoints agree on one similarity transform, and under it the pixels agree."""
    matches, transform = alignment(a, b)
    return matches >= MIN_MATCHED_KEYPOINTS and aligned_correlation(a, b, transform) >= MIN_ALIGNED_CORRELATION
