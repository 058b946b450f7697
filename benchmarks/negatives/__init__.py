"""Pictures the gradability gate must refuse, drawn here: no download, no fixed public image
collection, the same pictures for the same seed.

Two groups, kept apart on purpose:
    seen    the kinds the gate's method was designed with (train_jax/gradability); they
            may inform a design choice, never a fitted limit:
              noise           random noise and textures: stripes, checkerboards, plasma
              documents       pages of text, ruled lines and tables
              dark            eye photos at 3% brightness (ImageEnhance.Brightness(0.03))
              bright          eye photos at 300-400% brightness, washed out
              blurred         eye photos under GaussianBlur(max(width, height) / 40)
              shrunk          eye photos shrunk until their shorter side is under MIN_PHOTO_SIDE
            these six informed the feature log floor chosen on 2026-12-01 and so moved to seen:
              scenes          outdoor and indoor scenes: sky, ground, houses, trees, sun, rooms
              fundus-like     the back of the eye: an orange-red disc, a bright optic disc and
                              dark branching vessels on black (another kind of eye image)
              objects         shaded balls, boxes and four-legged animal shapes on backgrounds
              screenshots/UI  flat panels, title bars, buttons, input boxes and text
              dim             eye photos at 5-15% brightness
              motion-blurred  eye photos streaked along a line of max(width, height) / 25
            these four informed the grey check chosen on 2026-12-01 and so moved to seen:
              radiographs     X-ray-like films: bright bone shapes (rounded bars, ellipses,
                              joints) softly lit on a dark ground, a little blurred, film grain,
                              sometimes a bright label in a corner
              charts          plots on a light background: axes with ticks, bars, lines or
                              scatter points in a few colours, a title and axis labels
              blank surfaces  accidental shots of a wall, ceiling, floor or tabletop: one colour,
                              unevenly lit and vignetted, a faint texture, sometimes a light
                              switch, a socket or the edge between two surfaces
              sketches        pen sketches on off-white paper: strokes, curves, circles, hatching
                              and scribbles in dark ink, sometimes a few words
            these four were used on 2026-12-01 to compare not-an-eye features (per block,
            k nearest neighbours, 2x2 grids; none was adopted) and so moved to seen:
              ECG printouts      electrocardiogram paper photographed: a red, pink, green or grey
                                 millimetre grid on off-white, strips of P-QRS-T beats in dark ink
                                 with lead names, often a printed header, sometimes tilted
              microscope slides  stained cells under a microscope: a bright field, sometimes in
                                 the eyepiece's dark circle, pink or blue-violet blobs with darker
                                 nuclei, overlapping, sometimes out of focus
              skin close-ups     dermatology close-ups: skin of any tone with pores, creases and
                                 uneven light, a mole, lesion, rash or scar, maybe hairs; no eyes
              street maps        map tiles: a light ground, buildings, parks, water, white and
                                 yellow or orange roads with edges, names, sometimes a pin
            these four informed the colour-distribution check chosen on 2026-12-02 and so moved to seen:
              food plates         a meal photographed from above or at an angle: a round or oval
                                  plate (white, coloured or with a patterned rim) on wood, stone
                                  or a cloth, rice or pasta, greens, tomatoes, carrots, peas, meat
                                  or fish, a sauce smear; sometimes cutlery, a glass or a napkin
              leaf close-ups      leaves filling much of the frame, green of many shades or in
                                  autumn colours, veins branching from a midrib, smooth, serrated
                                  or lobed edges, a sheen and shadows, over blurred foliage, soil
                                  or sky
              fabric patterns     photographed cloth: a woven or knitted grain of threads, stripes,
                                  plaid or tartan, polka dots, florals or paisley-like teardrops in
                                  a few colours, shaded by soft folds and now and then a crease
              abstract paintings  acrylic on canvas: bold bristly strokes, colour fields, drips and
                                  splatters, geometric blocks or swirls, the canvas weave showing,
                                  sometimes hung on a wall, framed or not
    unseen  kinds chosen for this benchmark alone, used in no choice of the gate, so their
            refusal rate says how it meets pictures nobody planned for:
              shelves             a bookcase or a shop's shelves from the front, a little from one
                                  side: book spines of cloth, leather and paper colours with bands
                                  and titles, now and then a pile lying flat or a book leaning; or
                                  rows of the same box, bottle, can or jar over a strip of price
                                  tags; darker inside, each board shading the tops of things
              flowers             flowers, most often pink, red or magenta, also orange, yellow,
                                  white or violet: five-petalled blossoms, daisies, roses, tulips
                                  on their stems, domes of florets; in a garden a few in focus
                                  among leaves and more out of focus over foliage, or a bouquet
                                  packed among leaves before a wall, sometimes in paper
              desk tops           a desk from above: wood, stone, laminate or a cloth, a keyboard
                                  with lettered keys (sometimes a number pad), a mouse, a mug of
                                  coffee or tea, printed sheets, sticky notes, a pen, a phone, a
                                  cable, each with its shadow; or a keyboard's keys close up at a
                                  slant, the far ones out of focus
              pet fur             a cat or dog curled up asleep, seen from above, on a blanket, a
                                  floor or a table, the head tucked in with the ears showing and
                                  the tail round it; or its coat close up filling the frame: ginger,
                                  cream, brown, golden, grey, black or white, plain, tabby or in
                                  patches, strands of hair following the body round
Drawn pictures are 300-800 pixels a side, like photos; the eye-derived kinds are made from
the eye photos given (the benchmark gives the run's validation photos), one per photo.
"""

from __future__ import annotations

import dataclasses
import io
import zlib
from typing import Callable

import numpy as np
from PIL import Image

from benchmarks.negatives.canvas import (
    BLUR_DIVISOR,
    BRIGHT_BRIGHTNESS,
    DARK_BRIGHTNESS,
    DIM_BRIGHTNESS,
    MOTION_DIVISOR,
    SHRUNK_SIDES,
    SIDES,
)
from benchmarks.negatives.documents import draw_chart, draw_document, draw_map, draw_screenshot, draw_sketch
from benchmarks.negatives.everyday import draw_desk, draw_flowers, draw_fur, draw_shelves
from benchmarks.negatives.eye_derived import blur, brighten, darken, dim, shrink, streak
from benchmarks.negatives.medical import draw_ecg, draw_fundus, draw_micrograph, draw_radiograph, draw_skin
from benchmarks.negatives.objects import draw_food, draw_objects
from benchmarks.negatives.patterns import draw_fabric, draw_noise, draw_painting
from benchmarks.negatives.scenes import draw_leaves, draw_scene, draw_surface

# The package's public names, those other code imports (the kinds are drawn in the modules above).
__all__ = [
    "BLUR_DIVISOR",
    "BLURRED",
    "BRIGHT_BRIGHTNESS",
    "DARK",
    "DARK_BRIGHTNESS",
    "DIM_BRIGHTNESS",
    "KINDS",
    "KINDS_BY_NAME",
    "MOTION_DIVISOR",
    "NOT_EYE",
    "SEEN_KINDS",
    "SHRUNK_SIDES",
    "SIDES",
    "UNSEEN_KINDS",
    "Derive",
    "Draw",
    "Kind",
    "Negative",
    "kind_rng",
    "make_negatives",
]


Draw = Callable[[np.random.Generator], Image.Image]
Derive = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of picture to refuse: drawn from nothing (`draw`) or made from an eye photo
    (`derive`). `goal` names the goal of issue 20 it counts towards, if any."""

    name: str
    seen: bool
    description: str
    goal: str | None
    image_format: str  # how it is encoded before the benchmark decodes it, like a file
    draw: Draw | None = None
    derive: Derive | None = None

    @property
    def eye_derived(self) -> bool:
        return self.derive is not None


@dataclasses.dataclass(frozen=True)
class Negative:
    kind: str
    index: int
    image: Image.Image

    def encoded(self, image_format: str) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, image_format, **({"quality": 92} if image_format == "JPEG" else {}))
        return buffer.getvalue()


def kind_rng(seed: int, kind: str) -> np.random.Generator:
    """Each kind its own stream, so adding a kind or changing a count moves no other kind."""
    return np.random.default_rng([seed, zlib.crc32(kind.encode())])


def make_negatives(kind: Kind, seed: int, count: int, eye_photos: list[Image.Image]) -> list[Negative]:
    """`count` drawn pictures of `kind`, or one per eye photo for an eye-derived kind."""
    rng = kind_rng(seed, kind.name)
    if kind.derive is not None:
        return [Negative(kind.name, index, kind.derive(photo.convert("RGB"), rng)) for index, photo in enumerate(eye_photos)]
    assert kind.draw is not None
    return [Negative(kind.name, index, kind.draw(rng)) for index in range(count)]


# The goals of issue 20 a kind counts towards.
NOT_EYE, DARK, BLURRED = "not_eye", "dark", "blurred"

KINDS = (
    Kind("noise", True, "random noise and textures: stripes, checkerboards, plasma", NOT_EYE, "PNG", draw=draw_noise),
    Kind("documents", True, "pages of text, ruled lines and tables", NOT_EYE, "PNG", draw=draw_document),
    Kind("dark", True, f"eye photos at {DARK_BRIGHTNESS:.0%} brightness", DARK, "JPEG", derive=darken),
    Kind("bright", True, f"eye photos at {BRIGHT_BRIGHTNESS[0]:.0%}-{BRIGHT_BRIGHTNESS[1]:.0%} brightness", None,
         "JPEG", derive=brighten),
    Kind("blurred", True, f"eye photos under GaussianBlur(max side / {BLUR_DIVISOR})", BLURRED, "JPEG", derive=blur),
    Kind("shrunk", True, f"eye photos shrunk to a shorter side of {SHRUNK_SIDES[0]}-{SHRUNK_SIDES[1] - 1} px", None,
         "PNG", derive=shrink),
    Kind("scenes", True, "outdoor and indoor scenes: sky, ground, houses, trees, sun, rooms", NOT_EYE, "JPEG",
         draw=draw_scene),
    Kind("fundus-like", True, "the back of the eye: orange-red disc, optic disc, vessels on black", NOT_EYE, "JPEG",
         draw=draw_fundus),
    Kind("objects", True, "shaded balls, boxes and animal shapes on backgrounds", NOT_EYE, "JPEG", draw=draw_objects),
    Kind("screenshots/UI", True, "flat panels, title bars, buttons, input boxes and text", NOT_EYE, "PNG",
         draw=draw_screenshot),
    Kind("dim", True, f"eye photos at {DIM_BRIGHTNESS[0]:.0%}-{DIM_BRIGHTNESS[1]:.0%} brightness", None, "JPEG",
         derive=dim),
    Kind("motion-blurred", True, f"eye photos streaked along max side / {MOTION_DIVISOR}", None, "JPEG",
         derive=streak),
    Kind("radiographs", True, "X-ray-like films: bright bones and joints on dark, a little blurred, film grain", NOT_EYE,
         "JPEG", draw=draw_radiograph),
    Kind("charts", True, "plots: axes with ticks, bars, lines or points, a title and axis labels", NOT_EYE, "PNG",
         draw=draw_chart),
    Kind("blank surfaces", True, "walls, ceilings, floors, tabletops: one colour unevenly lit, maybe a switch or edge",
         NOT_EYE, "JPEG", draw=draw_surface),
    Kind("sketches", True, "pen sketches on paper: strokes, curves, circles, hatching, scribbles, a few words", NOT_EYE,
         "JPEG", draw=draw_sketch),
    Kind("ECG printouts", True, "electrocardiogram paper: a millimetre grid, strips of beats, lead names, a header",
         NOT_EYE, "JPEG", draw=draw_ecg),
    Kind("microscope slides", True, "stained cells: pink or blue-violet blobs with dark nuclei in a bright field",
         NOT_EYE, "JPEG", draw=draw_micrograph),
    Kind("skin close-ups", True, "skin of any tone, pores and uneven light, a mole, lesion, rash or scar, maybe hairs",
         NOT_EYE, "JPEG", draw=draw_skin),
    Kind("street maps", True, "map tiles: buildings, parks, water, roads with edges, street names, maybe a pin",
         NOT_EYE, "PNG", draw=draw_map),
    Kind("food plates", True, "a meal from above or at an angle: a plate of foods on a table, maybe cutlery or a glass",
         NOT_EYE, "JPEG", draw=draw_food),
    Kind("leaf close-ups", True, "leaves filling the frame: veins from a midrib, smooth or serrated, over foliage, soil, sky",
         NOT_EYE, "JPEG", draw=draw_leaves),
    Kind("fabric patterns", True, "woven or knitted cloth: stripes, plaid, dots, florals or paisley, in soft folds",
         NOT_EYE, "JPEG", draw=draw_fabric),
    Kind("abstract paintings", True, "acrylic on canvas: strokes, colour fields, drips, blocks or swirls, maybe framed",
         NOT_EYE, "JPEG", draw=draw_painting),
    Kind("shelves", False, "a bookcase of spines or a shop's shelves of boxes, bottles, cans, jars over price tags",
         NOT_EYE, "JPEG", draw=draw_shelves),
    Kind("flowers", False, "flowers in a garden or a bouquet: blossoms, daisies, roses, tulips, mostly pink or red",
         NOT_EYE, "JPEG", draw=draw_flowers),
    Kind("desk tops", False, "a desk from above: keyboard, mouse, mug, papers, notes, pen, phone; or keys close up",
         NOT_EYE, "JPEG", draw=draw_desk),
    Kind("pet fur", False, "a cat or dog curled up asleep seen from above, or its coat of hair close up",
         NOT_EYE, "JPEG", draw=draw_fur),
)
KINDS_BY_NAME = {kind.name: kind for kind in KINDS}
SEEN_KINDS = tuple(kind.name for kind in KINDS if kind.seen)
UNSEEN_KINDS = tuple(kind.name for kind in KINDS if not kind.seen)
