"""The shared decode-and-resize used by training, the client and the server."""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.bad_inputs import write_special_paths
from cataract_contract import (
    ACCEPTED_FORMATS,
    MAX_DECODED_BYTES,
    MAX_IMAGE_BYTES,
    ImageError,
    decode_image,
    format_by_signature,
    load_rgb,
    model_input,
    read_image_bytes,
    resize_for_model,
)


def encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def gradient_rgb(width: int = 40, height: int = 30) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, 255 - x], -1).astype(np.uint8))


@pytest.mark.parametrize(
    "mode,format",
    [("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"), ("RGB", "BMP"), ("RGB", "WEBP")],
)
def test_every_mode_becomes_rgb(mode, format):
    source = gradient_rgb().convert(mode)
    decoded = decode_image(encode(source, format))
    assert decoded.mode == "RGB" and decoded.size == (40, 30)


def test_16_bit_grayscale_keeps_its_range():
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16)[None, :].repeat(8, 0)
    data = encode(Image.fromarray(ramp), "PNG")
    pixels = np.asarray(decode_image(data))
    assert pixels[0, 0, 0] == 0 and pixels[0, -1, 0] == 255
    assert np.all(np.diff(pixels[0, :, 0].astype(int)) >= 0)  # monotone, not clipped at 255


def test_transparent_areas_become_black():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, but fully transparent
    decoded = np.asarray(decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG")))
    assert decoded.max() == 0


def test_exif_orientation_is_applied():
    image = gradient_rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    decoded = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert decoded.size == (20, 40)


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = np.asarray(decode_image(buffer.getvalue()))
    assert decoded[0, 0, 0] > 200 and decoded[0, 0, 2] < 50


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header claiming a huge image, with almost no pixel data behind it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "empty"),
        (b"this is a text file, not a photo", "not an image"),
        (png_declaring(50_000, 50_000), "bomb"),
        (png_declaring(8_000, 6_000), "bomb"),
    ],
)
def test_bad_bytes_are_named(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize("format", ["JPEG", "PNG"])
def test_truncated_files_are_named(format):
    data = encode(gradient_rgb(200, 200), format)
    with pytest.raises(ImageError, match="truncated|corrupt|cannot decode"):
        decode_image(data[: len(data) // 2])


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as file:
        file.truncate(MAX_IMAGE_BYTES + 1)
    with pytest.raises(ImageError, match="over the limit"):
        load_rgb(path)


def test_resize_gives_the_model_input_shape_and_keeps_content():
    image = gradient_rgb(400, 300)
    array = resize_for_model(image, 64)
    assert array.shape == (64, 64, 3) and array.dtype == np.uint8
    assert array[:, 0, 0].mean() < 20 and array[:, -1, 0].mean() > 235  # left dark, right bright


def test_every_source_kind_gives_the_same_input(tmp_path):
    image = gradient_rgb(50, 50)
    data = encode(image, "PNG")
    path = tmp_path / "photo.PNG"
    path.write_bytes(data)
    expected = model_input(image, 32)
    for source in (data, path, str(path), np.asarray(image)):
        np.testing.assert_array_equal(model_input(source, 32), expected)


def test_bad_arrays_are_refused():
    with pytest.raises(ImageError, match="uint8"):
        model_input(np.zeros((8, 8, 3), np.float32), 32)
    with pytest.raises(ImageError, match="shape"):
        model_input(np.zeros((8, 8, 5), np.uint8), 32)


def test_memory_is_budgeted_in_bytes_not_only_pixels():
    """Same pixel count, under the pixel limit: RGB fits the byte budget, RGBA (4 bytes a
    pixel) does not; 16-bit grey (2 bytes) does, and is scaled without float64 copies."""
    side = 6300
    assert side * side * 3 <= MAX_DECODED_BYTES < side * side * 4
    assert decode_image(encode(Image.new("RGB", (side, side), (9, 99, 199)), "PNG")).getpixel((0, 0)) == (9, 99, 199)
    with pytest.raises(ImageError, match=f"{side}x{side} RGBA pixels, 151 MiB decoded, over the memory budget of 114 MiB"):
        decode_image(encode(Image.new("RGBA", (side, side)), "PNG"))
    ramp = np.zeros((side, side), np.uint16)
    ramp[:, -1] = 65535
    decoded = decode_image(encode(Image.fromarray(ramp), "PNG"))
    assert decoded.getpixel((0, 0)) == (0, 0, 0) and decoded.getpixel((side - 1, 0)) == (255, 255, 255)


def test_half_transparent_pixels_blend_towards_black():
    rgba = np.full((2, 2, 4), (200, 100, 50, 128), np.uint8)
    decoded = np.asarray(decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG")))
    np.testing.assert_allclose(decoded[0, 0], [100, 50, 25], atol=1)


@pytest.mark.parametrize("format", ["PPM", "ICO", "TGA", "PCX", "EPS", "SGI", "QOI"])
def test_formats_a_photo_never_comes_in_are_refused_by_name(format):
    data = encode(gradient_rgb(32, 32), format)
    with pytest.raises(ImageError, match=f"^{format} images are not accepted: send JPEG, PNG, BMP, WEBP, GIF, TIFF$"):
        decode_image(data)


@pytest.mark.parametrize("format", ["JPEG", "PNG", "BMP", "WEBP", "GIF", "TIFF"])
def test_accepted_formats_decode(format):
    assert decode_image(encode(gradient_rgb(), format)).size == (40, 30)


@pytest.mark.timeout(60)  # before the fix, the FIFO hung the reader forever
def test_special_files_are_refused_without_reading_them(tmp_path):
    for path, problem in write_special_paths(tmp_path).items():
        with pytest.raises(ImageError, match=problem) as error:
            read_image_bytes(path)
        assert str(error.value).startswith(f"cannot read {path}: "), error.value
        with pytest.raises(ImageError, match=problem):
            load_rgb(path)


def test_a_refused_format_is_named_by_its_magic_number_with_no_other_plugin_called(monkeypatch):
    """Issue 22 item 12: naming a refused file once opened it with every Pillow plugin, each
    more code an attacker can reach (EPS even runs Ghostscript). Only the accepted formats'
    plugins may look at the bytes now."""
    refused = {format: encode(gradient_rgb(32, 32), format)
               for format in ("PPM", "ICO", "TGA", "PCX", "EPS", "SGI", "QOI", "PDF")}
    Image.init()  # every plugin registered, so that each can be watched
    called = []

    def watched(format, plugin):
        def call(*args, **options):
            called.append(format)
            return plugin(*args, **options)
        return call

    for format, (factory, accept) in list(Image.OPEN.items()):
        if format not in ACCEPTED_FORMATS:
            monkeypatch.setitem(Image.OPEN, format, (watched(format, factory), accept and watched(format, accept)))
    open_with_formats = Image.open

    def open_only_accepted(file, mode="r", formats=None):
        assert formats is not None and set(formats) <= set(ACCEPTED_FORMATS), f"Image.open with formats={formats}"
        return open_with_formats(file, mode, formats)

    monkeypatch.setattr(Image, "open", open_only_accepted)
    for format, data in refused.items():
        with pytest.raises(ImageError, match=f"^{format} images are not accepted: send JPEG, PNG, BMP, WEBP, GIF, TIFF$"):
            decode_image(data)
    assert called == []


@pytest.mark.parametrize("data,format", [
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\n", "EPS"),
    (b"\xc5\xd0\xd3\xc6" + bytes(28), "EPS"),  # DOS EPS: a binary header before the PostScript
    (b"%PDF-1.7\n", "PDF"),
    (b"8BPS\x00\x01" + bytes(20), "PSD"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(20), "JPEG2000"),
    (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
])
def test_formats_pillow_may_not_even_read_are_named_by_their_signature(data, format):
    assert format_by_signature(data) == format
    with pytest.raises(ImageError, match=f"^{format} images are not accepted"):
        decode_image(data)


@pytest.mark.parametrize("data,message", [
    (b"\x13\x37 unknown bytes", "not an image: the bytes are in no known image format"),
    (b"<html><body>a web page</body></html>", "not an image: the bytes are in no known image format"),
    (b"\xff\xd8\xff" + bytes(8), "not an image: the bytes begin like JPEG, but its header cannot be read (damaged, cut short, or a JPEG variant that is not supported)"),
])
def test_bytes_of_no_format_or_a_broken_header_are_not_an_image(data, message):
    with pytest.raises(ImageError, match=f"^{re.escape(message)}$"):
        decode_image(data)
