"""Medical pictures that are not photos of the front of an eye: fundus-like (the back of the
eye: an orange-red disc, a bright optic disc and dark branching vessels on black),
radiographs (X-ray-like films of bones and joints), ECG printouts (strips of beats on
millimetre paper, photographed), microscope slides (stained cells in a bright field) and
skin close-ups (skin with pores, a mole, lesion, rash or scar), with the helpers only they
use."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.negatives.canvas import blob, colour, font, grain, pen_path, photographed, picture_size, plasma, to_image, words


def draw_fundus(rng: np.random.Generator) -> Image.Image:
    """The retina as a fundus camera shows it: a disc darker towards its rim, the optic
    disc, the macula, and vessels branching out of the optic disc."""
    size = picture_size(rng)
    width, height = size
    radius = min(width, height) * rng.uniform(0.40, 0.48)
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.04, 0.04, 2) * min(width, height)
    y, x = np.mgrid[0:height, 0:width]
    distance = np.hypot(x - centre[0], y - centre[1]) / radius
    base = np.array([rng.uniform(170, 230), rng.uniform(60, 110), rng.uniform(20, 50)])
    pixels = base * (1 - 0.45 * distance**2)[..., None] * (0.9 + 0.2 * plasma(rng, size))[..., None]
    side = rng.choice([-1, 1])
    optic = centre + np.array([side * radius * rng.uniform(0.3, 0.5), radius * rng.uniform(-0.1, 0.1)])
    optic_radius = radius * rng.uniform(0.10, 0.16)
    glow = np.exp(-(np.hypot(x - optic[0], y - optic[1]) / optic_radius) ** 4)
    pixels += glow[..., None] * (np.array([255, 230, 170]) - pixels) * 0.9
    macula = centre - np.array([side * radius * 0.15, 0])
    pixels *= (1 - 0.35 * np.exp(-(np.hypot(x - macula[0], y - macula[1]) / (radius * 0.12)) ** 2))[..., None]
    retina = to_image(grain(pixels, rng, 3.0))
    draw = ImageDraw.Draw(retina)
    vessel = (int(rng.integers(90, 140)), int(rng.integers(15, 40)), int(rng.integers(10, 30)))

    def branch(start: np.ndarray, angle: float, length: float, thickness: float, depth: int) -> None:
        if depth == 0 or thickness < 1:
            return
        points = [start]
        for _ in range(6):
            angle += rng.normal(0, 0.15)
            points.append(points[-1] + length / 6 * np.array([math.cos(angle), math.sin(angle)]))
        draw.line([tuple(point) for point in points], fill=vessel, width=max(1, round(thickness)), joint="curve")
        for turn in (-1, 1):
            branch(points[-1], angle + turn * rng.uniform(0.3, 0.8), length * 0.7, thickness * 0.7, depth - 1)

    toward_centre = math.atan2(centre[1] - optic[1], centre[0] - optic[0])
    for arcade in (-1, 1):  # the upper and lower vascular arcades
        branch(optic, toward_centre + arcade * rng.uniform(0.8, 1.4), radius * 0.5, radius * 0.03, 4)
    outside = Image.fromarray(((distance > 1) * 255).astype(np.uint8), "L")
    retina.paste((0, 0, 0), mask=outside)  # black around the disc
    return retina


def draw_radiograph(rng: np.random.Generator) -> Image.Image:
    """An X-ray film: soft tissue as a faint glow, bones as bright rounded bars with a joint
    at each end or as ellipses, densest at their middle, a little blurred, then film grain."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    bones = Image.new("L", size, 0)
    draw = ImageDraw.Draw(bones)
    for _ in range(int(rng.integers(2, 7))):
        thickness = reach * rng.uniform(0.04, 0.11)
        start = rng.uniform(0.15, 0.85, 2) * size
        if rng.random() < 0.7:  # a long bone: a rounded bar with a knob at each end
            angle, length = rng.uniform(0, math.pi), reach * rng.uniform(0.3, 0.7)
            end = start + length * np.array([math.cos(angle), math.sin(angle)])
            draw.line([tuple(start), tuple(end)], fill=255, width=round(thickness))
            for joint in (start, end):
                knob = thickness * rng.uniform(0.6, 1.0)
                draw.ellipse([joint[0] - knob, joint[1] - knob, joint[0] + knob, joint[1] + knob], fill=255)
        else:  # a flat or round bone
            across, along = thickness * rng.uniform(1.5, 4), thickness * rng.uniform(1, 2.5)
            draw.ellipse([start[0] - across, start[1] - along, start[0] + across, start[1] + along], fill=255)
    hard = np.asarray(bones, float) / 255
    soft = np.asarray(bones.filter(ImageFilter.GaussianBlur(reach / 30)), float) / 255
    tissue = Image.new("L", size, 0)
    ImageDraw.Draw(tissue).ellipse([width * 0.1, height * 0.1, width * 0.9, height * 0.9], fill=255)
    glow = np.asarray(tissue.filter(ImageFilter.GaussianBlur(reach / 8)), float) / 255
    density = rng.uniform(5, 30) + rng.uniform(20, 60) * glow + rng.uniform(140, 210) * hard * (0.5 + 0.5 * soft)
    film = Image.fromarray(np.clip(density, 0, 255).astype(np.uint8), "L").filter(
        ImageFilter.GaussianBlur(rng.uniform(0.8, 2.5)))
    grey = grain(np.asarray(film, float), rng, rng.uniform(4, 10))
    radiograph = to_image(np.repeat(grey[..., None], 3, axis=2))  # grain alike in every channel: grey
    if rng.random() < 0.5:  # a marker burnt into a corner
        label = f"{rng.choice(['L', 'R'])} {words(rng, int(rng.integers(1, 3))).upper()}"
        corner = (int(rng.choice([0.04, 0.7]) * width), int(rng.choice([0.04, 0.9]) * height))
        ImageDraw.Draw(radiograph).text(corner, label, fill=(235, 235, 235), font=font(int(rng.integers(12, 24))))
    return radiograph


ECG_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
ECG_GRIDS = {  # paper tints: (fine lines, bold lines)
    "red": ((246, 196, 196), (228, 118, 118)),
    "pink": ((248, 208, 220), (236, 140, 170)),
    "green": ((196, 228, 204), (118, 186, 138)),
    "grey": ((212, 212, 212), (150, 150, 150)),
}


def draw_ecg(rng: np.random.Generator) -> Image.Image:
    """An electrocardiogram printout, photographed: millimetre paper (fine lines each
    millimetre, bold each five) in red, pink, green or grey on off-white, one to twelve
    strips of P-QRS-T beats in black or dark-blue ink with their lead names, often a printed
    header, sometimes a calibration pulse; now and then tilted on a table, lit unevenly."""
    width, height = picture_size(rng)
    tilt = float(rng.uniform(-6, 6)) if rng.random() < 0.4 else 0.0
    grow = 1.15 if tilt else 1.0
    big = (int(width * grow) + 2, int(height * grow) + 2)
    white = int(rng.integers(236, 254))
    paper = (white, white - int(rng.integers(0, 8)), white - int(rng.integers(2, 16)))
    sheet = Image.new("RGB", big, paper)
    draw = ImageDraw.Draw(sheet)
    fine, bold = ECG_GRIDS[str(rng.choice(["red", "red", "pink", "green", "grey"]))]
    fine, bold = (tuple(int(np.clip(value + rng.normal(0, 6), 0, 255)) for value in tint) for tint in (fine, bold))
    mm = rng.uniform(2.6, 6.0)  # pixels a millimetre
    for index in range(int(max(big) / mm) + 2):  # the fine lines first, the bold over them
        if index % 5:
            draw.line([index * mm, 0, index * mm, big[1]], fill=fine)
            draw.line([0, index * mm, big[0], index * mm], fill=fine)
    bold_width = int(rng.integers(1, 3))
    for index in range(0, int(max(big) / mm) + 2, 5):
        draw.line([index * mm, 0, index * mm, big[1]], fill=bold, width=bold_width)
        draw.line([0, index * mm, big[0], index * mm], fill=bold, width=bold_width)

    if rng.random() < 0.7:  # black ink
        dark = int(rng.integers(0, 40))
        ink = (dark, dark, dark + int(rng.integers(0, 10)))
    else:  # dark blue
        ink = (int(rng.integers(10, 40)), int(rng.integers(20, 50)), int(rng.integers(90, 150)))
    left, right = (big[0] - width) // 2, (big[0] + width) // 2  # the part the photo will keep
    top, bottom = (big[1] - height) // 2, (big[1] + height) // 2
    size = int(np.clip(mm * rng.uniform(2.5, 4), 10, 18))
    if rng.random() < 0.7:  # a header: a name, rate, speed, gain, filter, as many as fit
        parts = [words(rng, 2).title(), f"HR {int(rng.integers(50, 110))} bpm", "25 mm/s", "10 mm/mV",
                 f"0.{int(rng.integers(5, 50)):02d}-{int(rng.choice([40, 100, 150]))} Hz"]
        header = "   ".join(parts)
        while len(parts) > 1 and draw.textlength(header, font=font(size)) > width - 2 * size:
            parts.pop()
            header = "   ".join(parts)
        draw.text((left + size, top + size // 2), header, fill=ink, font=font(size))
        top += 2 * size
    rows = int(np.clip(round((bottom - top) / (mm * rng.uniform(22, 50))), 1, 12))
    columns = int(rng.choice([1, 4])) if 3 <= rows <= 6 and width > 450 else 1
    heart = rng.uniform(50, 115) / 60  # beats a second
    lead_names = iter(ECG_LEADS * 2)
    strip_height = (bottom - top) / rows
    line_width = int(rng.integers(1, 4))
    for row in range(rows):
        base = top + (row + 0.6) * strip_height
        first_beat = rng.uniform(0, 1 / heart)
        for column in range(columns):
            x0 = left + size + column * (right - left - 2 * size) / columns
            x1 = left + size + (column + 1) * (right - left - 2 * size) / columns - 4
            gain = min(10 * mm, strip_height * 0.45 / 1.6)  # pixels a millivolt: 10 mm unless the strip is short
            if column == 0 and rng.random() < 0.5:  # the calibration pulse: 1 mV for 0.2 s
                pulse = 5 * mm
                draw.line([(x0, base), (x0 + mm, base), (x0 + mm, base - gain), (x0 + mm + pulse, base - gain),
                           (x0 + mm + pulse, base), (x0 + 2 * mm + pulse, base)], fill=ink, width=line_width)
                x0 += 2 * mm + pulse
            lead = next(lead_names)
            draw.text((x0 + 2, base - min(strip_height * 0.55, gain * 1.4)), lead, fill=ink, font=font(size))
            xs = np.arange(x0, x1, 1.0)
            seconds = (xs - left) / (25 * mm)
            volts = heartbeats(rng, seconds, heart, first_beat, inverted=lead == "aVR")
            ys = base - gain * volts
            draw.line(list(zip(xs.tolist(), ys.tolist())), fill=ink, width=line_width, joint="curve")
            if columns > 1 and column:
                draw.line([x0 - 3, base - gain * 0.4, x0 - 3, base + gain * 0.2], fill=ink, width=line_width)
    if tilt:  # photographed on a table, a little turned
        sheet = sheet.rotate(tilt, Image.Resampling.BICUBIC, fillcolor=colour(rng, 40, 200))
    sheet = sheet.crop(((big[0] - width) // 2, (big[1] - height) // 2, (big[0] - width) // 2 + width,
                        (big[1] - height) // 2 + height))
    return photographed(sheet, rng)


def heartbeats(rng: np.random.Generator, seconds: np.ndarray, rate: float, first: float, inverted: bool) -> np.ndarray:
    """Millivolts along `seconds`: a P wave, a QRS complex and a T wave each beat, `rate`
    beats a second with a little variation between beats, a wandering baseline and noise."""
    count = int(seconds.max() * rate) + 3
    beats = first + np.cumsum(np.r_[0, rng.normal(1 / rate, 0.03 / rate, count)]) - 1 / rate
    r_wave, s_wave = rng.uniform(0.5, 1.7), rng.uniform(0.05, 0.5)
    p_wave, t_wave, q_wave = rng.uniform(0.08, 0.25), rng.uniform(0.1, 0.5) * rng.choice([1, 1, 1, -1]), rng.uniform(0, 0.2)
    width_qrs = rng.uniform(0.008, 0.016)

    def bump(at: np.ndarray, centre: float, spread: float) -> np.ndarray:
        return np.exp(-0.5 * ((at - centre) / spread) ** 2)

    volts = np.zeros_like(seconds)
    for beat in beats:
        at = seconds - beat
        near = np.abs(at) < 0.6
        a = at[near]
        volts[near] += (p_wave * bump(a, -0.18, 0.025) - q_wave * bump(a, -0.03, width_qrs)
                        + r_wave * bump(a, 0.0, width_qrs) - s_wave * bump(a, 0.035, width_qrs)
                        + t_wave * bump(a, 0.27, 0.045))
    if inverted:
        volts = -volts
    wander = rng.uniform(0, 0.15) * np.sin(2 * math.pi * rng.uniform(0.1, 0.4) * seconds + rng.uniform(0, 6))
    return volts + wander + rng.normal(0, rng.uniform(0.003, 0.02), seconds.size)


STAINS = {  # what a fully stained layer transmits: (cytoplasm, nucleus)
    "H&E": ((232, 128, 184), (84, 40, 128)),
    "blue": ((150, 160, 226), (40, 42, 128)),
    "violet": ((190, 150, 226), (70, 30, 120)),
}


def draw_micrograph(rng: np.random.Generator) -> Image.Image:
    """Stained cells under a microscope, as a camera at the eyepiece sees them: a bright
    field, sometimes inside the eyepiece's dark circle; a smear of cells (pink or blue-violet
    blobs of many sizes with darker grainy nuclei, sometimes among pale red blood cells) or a
    tissue section (crowded nuclei among wavy pink fibres); where they overlap the stains add
    up; sometimes out of focus."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    y, x = np.mgrid[0:height, 0:width]
    cytoplasm, nucleus = (np.array(tint, float) + rng.normal(0, 8, 3) for tint in STAINS[str(rng.choice(list(STAINS)))])
    absorb_cytoplasm = -np.log(np.clip(cytoplasm, 1, 255) / 255)  # optical density of a full layer
    absorb_nucleus = -np.log(np.clip(nucleus, 1, 255) / 255)
    tissue = rng.random() < 0.35
    ground = rng.uniform(0.02, 0.1) * plasma(rng, size)
    typical = reach * rng.uniform(0.012, 0.04)
    if tissue:  # a section: wavy fibres, with gaps where the tissue tore or thinned
        angle, period = rng.uniform(0, math.pi), reach * rng.uniform(0.02, 0.06)
        bend = plasma(rng, size) * period * rng.uniform(3, 8)
        bands = 0.5 + 0.5 * np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle) + bend) / period)
        present = np.clip((plasma(rng, size) - rng.uniform(0.2, 0.45)) * 5, 0, 1)
        ground += rng.uniform(0.35, 0.7) * (0.65 + 0.35 * bands**3) * present
        count = int(width * height / (typical**2 * rng.uniform(3, 10)))
    else:
        count = int(width * height / (typical**2 * rng.uniform(4, 25)))
    layers = [Image.new("L", size, 0) for _ in range(3)]
    nuclei = Image.new("L", size, 0)
    draws, nucleus_draw = [ImageDraw.Draw(layer) for layer in layers], ImageDraw.Draw(nuclei)
    if not tissue and rng.random() < 0.5:  # a blood smear: red cells, pale in their middle
        red_radius = typical * rng.uniform(0.5, 0.8)
        for _ in range(min(int(width * height / (red_radius**2 * rng.uniform(4, 12))), 4000)):
            centre, radius = rng.uniform(0, 1, 2) * size, red_radius * rng.uniform(0.85, 1.15)
            layer_draw, strength = draws[int(rng.integers(0, 3))], int(rng.integers(60, 130))
            layer_draw.polygon(blob(rng, centre, radius, rng.uniform(0.8, 1.0), 0.04), fill=strength)
            layer_draw.ellipse([*(centre - radius * 0.45), *(centre + radius * 0.45)], fill=strength // 2)
        count //= 4
    for _ in range(min(count, 3000)):
        radius = typical * rng.lognormal(0, 0.3)
        centre = rng.uniform(0, 1, 2) * size
        if not tissue or rng.random() < 0.2:
            draws[int(rng.integers(0, 3))].polygon(blob(rng, centre, radius, rng.uniform(0.6, 1.0)),
                                                   fill=int(rng.integers(90, 230)))
        if rng.random() < 0.85:
            lobes = 1 if rng.random() < 0.85 else int(rng.integers(2, 4))
            for _ in range(lobes):
                where = centre + rng.normal(0, radius * (0.12 if lobes == 1 else 0.3), 2)
                shape = blob(rng, where, radius * rng.uniform(0.3, 0.6) / lobes**0.3, rng.uniform(0.55, 1.0))
                nucleus_draw.polygon(shape, fill=int(rng.integers(150, 255)))
    density = ground[..., None] * absorb_cytoplasm
    for layer in layers:
        density += np.asarray(layer.filter(ImageFilter.GaussianBlur(typical * 0.06)), float)[..., None] / 255 * absorb_cytoplasm
    speckle = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), "L")
    chromatin = np.asarray(speckle.filter(ImageFilter.GaussianBlur(max(1.0, typical * 0.06))), float) / 255
    chromatin = 0.75 + 2.5 * (chromatin - chromatin.mean())  # clumped: darker and lighter grains
    nucleus_density = np.asarray(nuclei.filter(ImageFilter.GaussianBlur(typical * 0.04)), float) / 255 * chromatin
    density += nucleus_density[..., None] * absorb_nucleus
    lamp = np.array([rng.uniform(235, 255), rng.uniform(232, 252), rng.uniform(225, 255)])
    centre = np.array([width / 2, height / 2]) + rng.uniform(-0.05, 0.05, 2) * reach
    distance = np.hypot(x - centre[0], y - centre[1])
    if rng.random() < 0.5:  # the eyepiece's circle: bright inside, dark outside, a soft rim
        radius = reach * rng.uniform(0.4, 0.5)
        field = 1 / (1 + np.exp((distance - radius) / (reach * rng.uniform(0.005, 0.02))))
        field = field * (1 - 0.25 * (distance / radius).clip(0, 1) ** 2) + rng.uniform(0.0, 0.04)
    else:
        field = 1 - rng.uniform(0.05, 0.3) * (distance / (0.7 * math.hypot(width, height))) ** 2
    seen = to_image(lamp * np.exp(-density) * field[..., None])
    blur = rng.uniform(1.5, 3.5) if rng.random() < 0.3 else rng.uniform(0.3, 0.9)
    return to_image(grain(np.asarray(seen.filter(ImageFilter.GaussianBlur(blur)), float), rng, rng.uniform(2, 5)))


def draw_skin(rng: np.random.Generator) -> Image.Image:
    """A dermatology close-up: skin from light to dark in a range of hues, mottled, with
    pores and fine creases, lit unevenly with a little sheen, and a mole, a lesion, a rash or
    a scar somewhere; sometimes a few hairs. No eyes, no face."""
    size = picture_size(rng)
    width, height = size
    reach = min(width, height)
    darkness = rng.uniform(0, 1)
    tone = (1 - darkness) * np.array([238, 204, 180]) + darkness * np.array([96, 62, 44])
    warmth = rng.uniform(-0.02, 0.08)
    tone = np.sort(tone * np.array([1 + warmth, 1, 1 - warmth]) + rng.normal(0, 6, 3))[::-1]  # red over green over blue
    mottle, redness = plasma(rng, size), plasma(rng, size)
    skin = tone * (1 + rng.uniform(0.04, 0.12) * (mottle - 0.5))[..., None]
    skin[..., 0] *= 1 + rng.uniform(0.02, 0.08) * (redness - 0.5)
    skin[..., 1] *= 1 - rng.uniform(0.0, 0.05) * (redness - 0.5)
    marks = Image.new("L", size, 0)  # pores and creases, darker than the skin around
    draw = ImageDraw.Draw(marks)
    for _ in range(int(width * height / rng.uniform(120, 500))):
        x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.5, 1.8)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=int(rng.integers(60, 160)))
    first = rng.uniform(0, math.pi)
    for _ in range(int(width * height / rng.uniform(600, 2500))):
        angle = first + rng.choice([0, rng.uniform(0.9, 1.4)]) + rng.normal(0, 0.12)
        start, length = rng.uniform(0, 1, 2) * size, rng.uniform(8, 50)
        draw.line([tuple(start), tuple(start + length * np.array([math.cos(angle), math.sin(angle)]))],
                  fill=int(rng.integers(30, 90)), width=1)
    marks = np.asarray(marks.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2))), float) / 255
    speckle = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8), "L")
    bumps = np.asarray(speckle.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.5))), float) / 255
    skin *= (1 - rng.uniform(0.1, 0.3) * marks + rng.uniform(0.15, 0.45) * (bumps - bumps.mean()))[..., None]
    sheen = plasma(rng, size) ** 3 * rng.uniform(0.0, 0.25)
    skin += sheen[..., None] * (255 - skin)
    picture = to_image(skin)
    for _ in range(1 if rng.random() < 0.7 else 2):
        lesion = str(rng.choice(["mole", "lesion", "rash", "scar"]))
        skin_lesion(picture, rng, lesion, tone, reach)
    if rng.random() < 0.5:  # a few hairs, lying roughly the same way, gently curved
        hair_draw = ImageDraw.Draw(picture)
        lie = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(1, 15))):
            hair = tuple(int(value) for value in np.clip(tone * rng.uniform(0.15, 0.5), 0, 255))
            start, steps, length = rng.uniform(-0.1, 1.1, 2) * size, 24, reach * rng.uniform(0.25, 0.6)
            bend, heading, points = rng.normal(0, 0.02), lie + rng.normal(0, 0.35), [start]
            for _ in range(steps):
                heading += bend + rng.normal(0, 0.015)
                points.append(points[-1] + length / steps * np.array([math.cos(heading), math.sin(heading)]))
            hair_draw.line([tuple(point) for point in points], fill=hair, width=int(rng.choice([1, 1, 2])),
                           joint="curve")
    return photographed(picture, rng, blur=(0.4, 1.2))


def skin_lesion(picture: Image.Image, rng: np.random.Generator, lesion: str, tone: np.ndarray, reach: int) -> None:
    """A mole (a dark brown rounded spot), a lesion (an irregular red-brown patch of uneven
    colour), a rash (red patches and bumps) or a scar (a pale or pink line), soft-edged."""
    mask = Image.new("L", picture.size, 0)
    draw = ImageDraw.Draw(mask)
    centre = rng.uniform(0.2, 0.8, 2) * picture.size
    if lesion == "mole":
        radius = reach * rng.uniform(0.02, 0.1)
        draw.polygon(blob(rng, centre, radius, rng.uniform(0.7, 1.0)), fill=255)
        hue = np.array([rng.uniform(60, 120), rng.uniform(35, 70), rng.uniform(20, 45)])
        tint, soften = np.minimum(hue, tone * 0.7), radius * rng.uniform(0.08, 0.25)
    elif lesion == "lesion":
        radius = reach * rng.uniform(0.06, 0.2)
        for _ in range(int(rng.integers(2, 6))):
            draw.polygon(blob(rng, centre + rng.normal(0, radius * 0.3, 2), radius * rng.uniform(0.4, 0.8),
                              rng.uniform(0.5, 1.0)), fill=int(rng.integers(150, 256)))
        tint, soften = tone * np.array([0.85, 0.55, 0.5]) * rng.uniform(0.6, 1.0), radius * 0.1
    elif lesion == "rash":
        radius = reach * rng.uniform(0.15, 0.35)
        for _ in range(int(rng.integers(6, 40))):
            spot = centre + rng.normal(0, radius * 0.5, 2)
            draw.polygon(blob(rng, spot, reach * rng.uniform(0.01, 0.06), rng.uniform(0.5, 1.0)),
                         fill=int(rng.integers(100, 256)))
        redden = np.array([1.04, 0.72, 0.72]) if tone.mean() > 140 else np.array([0.85, 0.62, 0.64])  # dark skin: deeper
        tint, soften = np.clip(tone * redden, 0, 255), reach * 0.015
    else:  # a scar
        points = pen_path(rng, centre, 14, reach * rng.uniform(0.03, 0.06), 0.1)
        draw.line(points, fill=255, width=max(2, round(reach * rng.uniform(0.01, 0.03))), joint="curve")
        if rng.random() < 0.4:  # the marks of stitches across it
            for point in points[1:-1]:
                across = rng.uniform(0, math.pi)
                offset = reach * 0.02 * np.array([math.cos(across), math.sin(across)])
                draw.line([tuple(np.array(point) - offset), tuple(np.array(point) + offset)], fill=200, width=2)
        pale = rng.random() < 0.5
        tint = np.clip(tone * (np.array([1.1, 1.05, 1.05]) if pale else np.array([1.05, 0.8, 0.82])) + 15, 0, 255)
        soften = reach * 0.006
    share = np.asarray(mask.filter(ImageFilter.GaussianBlur(soften)), float)[..., None] / 255
    share = share * (0.75 + 0.5 * plasma(rng, picture.size))[..., None]  # uneven colour within
    pixels = np.asarray(picture, float)
    picture.paste(to_image(pixels + np.clip(share, 0, 1) * (tint - pixels)))
