"""The corpus of awkward inputs every door must handle, generated on demand.

`write_corpus(folder)` writes the files and returns, per file name, what must happen:
None when the file is a valid photo (odd, but answerable), or a phrase the error
message must contain. `write_special_paths(folder)` makes paths that are not regular
files (a FIFO, a folder, a device, a file that fails to read), with the same kind of
expectations; they have no bytes to send, so only the doors that read paths get them.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from cataract_contract import MAX_IMAGE_BYTES


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds almost no data (a bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def eye_like(size: int = 160) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size]
    radius = np.hypot(x - size / 2, y - size / 2)
    pixels = np.stack([200 - radius, 150 - radius / 2, 120 + 0 * radius], -1)
    pixels[radius < size / 6] = 20
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def write_corpus(folder: Path) -> dict[str, str | None]:
    folder.mkdir(parents=True, exist_ok=True)
    photo = eye_like()
    jpeg, png = encoded(photo, "JPEG", quality=90), encoded(photo, "PNG")
    sixteen_bit = Image.fromarray((np.asarray(photo.convert("L"), np.uint16) * 257).astype(np.uint16))
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    noise = np.random.default_rng(0).integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    # Small files that decode to huge images: 16-bit grey (2 bytes a pixel) and RGBA (4).
    sparse = np.zeros((6300, 6300), np.uint16)
    sparse[::97, :] = 65535
    transparent = Image.new("RGBA", (6300, 6300), (10, 20, 30, 128))
    small = photo.resize((32, 32))
    files: dict[str, tuple[bytes, str | None]] = {
        "empty.jpg": (b"", "empty"),
        "text_renamed.jpg": (b"Patient notes: follow up in two weeks.\n", "not an image"),
        "truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "truncated.png": (png[: len(png) // 2], "truncated"),
        "bomb_50000x50000.png": (png_header_only(50_000, 50_000), "bomb"),
        "gray_16bit.png": (encoded(sixteen_bit, "PNG"), None),
        "palette.png": (encoded(photo.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), None),
        "cmyk.jpg": (encoded(photo.convert("CMYK"), "JPEG"), None),
        "animated.gif": (gif.getvalue(), None),
        "one_pixel.png": (encoded(Image.new("RGB", (1, 1), (120, 60, 30)), "PNG"), None),
        "huge_noise.png": (encoded(Image.fromarray(noise), "PNG", compress_level=0), "over the limit"),
        "gray_16bit_6300x6300.png": (encoded(Image.fromarray(sparse), "PNG"), None),
        "rgba_6300x6300.png": (encoded(transparent, "PNG"), "memory budget"),
        "rgba_5000x5000.png": (encoded(transparent.crop((0, 0, 5000, 5000)), "PNG"), None),
        # Formats Pillow knows but a photo never comes in; EPS would even run Ghostscript.
        "portrait.ppm": (encoded(small, "PPM"), "PPM images are not accepted"),
        "icon.ico": (encoded(small, "ICO"), "ICO images are not accepted"),
        "scan.tga": (encoded(small, "TGA"), "TGA images are not accepted"),
        "paint.pcx": (encoded(small, "PCX"), "PCX images are not accepted"),
        "drawing.eps": (encoded(small, "EPS"), "EPS images are not accepted"),
    }
    assert len(files["huge_noise.png"][0]) > MAX_IMAGE_BYTES
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    return {name: expectation for name, (_, expectation) in files.items()}


def write_special_paths(folder: Path) -> dict[Path, str]:
    """Paths a careless or hostile caller may pass as photos, and the phrase each error
    must contain. Reading must never hang (FIFO), read without limit (/dev/zero), or let
    an OSError escape (a folder; /proc/self/mem, a regular file whose read fails with EIO)."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo, directory = folder / "pipe.jpg", folder / "folder.jpg"
    if not fifo.exists():
        os.mkfifo(fifo)
    directory.mkdir(exist_ok=True)
    return {
        fifo: "not a regular file",
        directory: "not a regular file",
        Path("/dev/zero"): "not a regular file",
        Path("/proc/self/mem"): "cannot read",
        folder / "missing.jpg": "No such file",
    }
