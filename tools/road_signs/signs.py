"""The road-sign catalogue (GTSRB class ids and names) and a Pillow renderer for each sign.

Every sign is drawn to its German (Vienna-convention) shape, colours and pictogram on a transparent
RGBA canvas, supersampled 4x and downscaled so the edges are anti-aliased. Drawing happens in
normalised coordinates: (0, 0) is the centre of the canvas, x runs right and y runs down, and ±1 is
the canvas edge, so every sign is described independently of the output resolution.

Small style variations (exact red/blue/yellow shades, border widths, pictogram size and stroke,
numeral weight and width) come from the ``rng`` passed to :func:`render_sign`, so a seed fixes them.
Numerals and lettering are drawn with the font given by the caller: training and held-out evaluation
use disjoint fonts (see :data:`TRAIN_FONTS` and :data:`HELDOUT_FONTS`).
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

Point = tuple[float, float]
RGB = tuple[int, int, int]
AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont

SUPERSAMPLE = 4


# --------------------------------------------------------------------------------------------------
# Fonts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontSpec:
    """A font for numerals and lettering: Pillow's built-in FreeType font, or a TTF from a package."""

    name: str
    package: str | None = None  # the PyPI distribution's import name; None = Pillow's built-in font
    filename: str | None = None  # the file inside the package's ``files/`` folder

    def path(self) -> Path | None:
        if self.package is None or self.filename is None:
            return None
        try:
            root = importlib.resources.files(self.package)
        except ModuleNotFoundError as error:
            raise RuntimeError(
                f"font {self.name!r} needs the package {self.package!r}: "
                "pip install -r tools/road_signs/requirements.txt"
            ) from error
        return Path(str(root / "files" / self.filename))

    def load(self, size: int) -> AnyFont:
        return _load_font(self, size)


@lru_cache(maxsize=64)
def _load_font(spec: FontSpec, size: int) -> AnyFont:
    path = spec.path()
    if path is None:
        return ImageFont.load_default(size=size)  # Aileron Regular, embedded in Pillow (FreeType)
    return ImageFont.truetype(str(path), size=size)


PILLOW_DEFAULT_FONT = FontSpec("Pillow built-in (Aileron Regular)")
# Source Sans Pro (SIL OFL 1.1), from the PyPI package font-source-sans-pro.
SOURCE_SANS_SEMIBOLD = FontSpec("Source Sans Pro Semibold", "font_source_sans_pro", "SourceSansPro-Semibold.ttf")
SOURCE_SANS_BOLD = FontSpec("Source Sans Pro Bold", "font_source_sans_pro", "SourceSansPro-Bold.ttf")
SOURCE_SANS_BLACK = FontSpec("Source Sans Pro Black", "font_source_sans_pro", "SourceSansPro-Black.ttf")
# Manrope (SIL OFL 1.1), from the PyPI package font-manrope: different numeral shapes again.
MANROPE_BOLD = FontSpec("Manrope Bold", "font_manrope", "Manrope-Bold.ttf")
MANROPE_EXTRABOLD = FontSpec("Manrope ExtraBold", "font_manrope", "Manrope-ExtraBold.ttf")
# Lato (SIL OFL 1.1), from the PyPI package font-lato: only ever used for held-out evaluation.
LATO_BOLD = FontSpec("Lato Bold", "font_lato", "Lato-Bold.ttf")
LATO_BLACK = FontSpec("Lato Black", "font_lato", "Lato-Black.ttf")

TRAIN_FONTS: tuple[FontSpec, ...] = (
    PILLOW_DEFAULT_FONT,
    SOURCE_SANS_SEMIBOLD,
    SOURCE_SANS_BOLD,
    SOURCE_SANS_BLACK,
    MANROPE_BOLD,
    MANROPE_EXTRABOLD,
)
HELDOUT_FONTS: tuple[FontSpec, ...] = (LATO_BOLD, LATO_BLACK)


# --------------------------------------------------------------------------------------------------
# Style: the colours and proportions one rendering uses
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignStyle:
    red: RGB
    blue: RGB
    yellow: RGB
    white: RGB
    black: RGB
    border_scale: float  # multiplies ring / border widths
    pictogram_scale: float  # multiplies pictogram size
    stroke_scale: float  # multiplies pictogram line widths
    numeral_height: float  # height of numerals, in normalised units
    numeral_squeeze: float  # horizontal scale of numerals relative to the font's own proportions
    glyph_weight: float  # extra glyph stroke, as a fraction of the glyph height (emboldens thin fonts)

    @staticmethod
    def sample(rng: np.random.Generator) -> SignStyle:
        def jitter(base: RGB, spread: int) -> RGB:
            values = np.clip(np.asarray(base) + rng.integers(-spread, spread + 1, size=3), 0, 255)
            return (int(values[0]), int(values[1]), int(values[2]))

        return SignStyle(
            red=jitter((200, 25, 35), 22),
            blue=jitter((20, 80, 165), 22),
            yellow=jitter((250, 190, 10), 18),
            white=jitter((245, 245, 242), 8),
            black=jitter((25, 25, 28), 15),
            border_scale=float(rng.uniform(0.88, 1.12)),
            pictogram_scale=float(rng.uniform(0.9, 1.06)),
            stroke_scale=float(rng.uniform(0.85, 1.15)),
            numeral_height=float(rng.uniform(0.7, 0.82)),
            numeral_squeeze=float(rng.uniform(0.7, 1.0)),
            glyph_weight=float(rng.uniform(0.0, 0.035)),
        )


# --------------------------------------------------------------------------------------------------
# Canvas and geometry helpers
# --------------------------------------------------------------------------------------------------


class Canvas:
    """An RGBA drawing surface addressed in normalised coordinates (see the module docstring)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def px(self, x: float, y: float) -> Point:
        half = self.size / 2
        return (half + x * half, half + y * half)

    def length(self, value: float) -> float:
        return value * self.size / 2

    def polygon(self, points: Sequence[Point], fill: RGB) -> None:
        self.draw.polygon([self.px(x, y) for x, y in points], fill=fill)

    def disc(self, cx: float, cy: float, radius: float, fill: RGB) -> None:
        x0, y0 = self.px(cx - radius, cy - radius)
        x1, y1 = self.px(cx + radius, cy + radius)
        self.draw.ellipse((x0, y0, x1, y1), fill=fill)

    def stroke(self, points: Sequence[Point], width: float, fill: RGB, round_ends: bool = True) -> None:
        """A thick polyline with rounded joints (and rounded ends unless told otherwise)."""
        pixel_width = max(1, round(self.length(width)))
        self.draw.line([self.px(x, y) for x, y in points], fill=fill, width=pixel_width, joint="curve")
        if round_ends:
            for x, y in (points[0], points[-1]):
                self.disc(x, y, width / 2, fill)

    def rounded_polygon(self, points: Sequence[Point], corner_radius: float, fill: RGB) -> None:
        """A convex polygon whose corners are rounded with ``corner_radius`` (as real signs are)."""
        if corner_radius <= 0:
            self.polygon(points, fill)
            return
        core = inset_polygon(points, corner_radius)
        self.polygon(core, fill)
        self.stroke([*core, core[0]], 2 * corner_radius, fill, round_ends=False)
        for x, y in core:
            self.disc(x, y, corner_radius, fill)

    def paste_layer(self, layer: Image.Image, clip: Image.Image | None = None) -> None:
        """Composite an RGBA layer, optionally limited to where ``clip`` (an L mask) is set."""
        if clip is not None:
            alpha = ImageChops.multiply(layer.getchannel("A"), clip)
            layer = layer.copy()
            layer.putalpha(alpha)
        self.image.alpha_composite(layer)


def inset_polygon(points: Sequence[Point], distance: float) -> list[Point]:
    """Move every edge of a convex, clockwise-or-not polygon inwards by ``distance``."""
    count = len(points)
    cx = sum(p[0] for p in points) / count
    cy = sum(p[1] for p in points) / count
    result: list[Point] = []
    for i in range(count):
        previous, here, following = points[i - 1], points[i], points[(i + 1) % count]
        normals = []
        for a, b in ((previous, here), (here, following)):
            ex, ey = b[0] - a[0], b[1] - a[1]
            norm = math.hypot(ex, ey)
            nx, ny = -ey / norm, ex / norm
            # Pick the normal that points towards the centroid: that is "inwards" for a convex shape.
            mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            if (cx - mx) * nx + (cy - my) * ny < 0:
                nx, ny = -nx, -ny
            normals.append((nx, ny))
        (n1x, n1y), (n2x, n2y) = normals
        factor = distance / (1 + n1x * n2x + n1y * n2y)
        result.append((here[0] + (n1x + n2x) * factor, here[1] + (n1y + n2y) * factor))
    return result


def regular_polygon(sides: int, radius: float, rotation_deg: float) -> list[Point]:
    return [
        (
            radius * math.cos(math.radians(rotation_deg + 360 * k / sides)),
            radius * math.sin(math.radians(rotation_deg + 360 * k / sides)),
        )
        for k in range(sides)
    ]


def mirrored(points: Sequence[Point], mirror: bool) -> list[Point]:
    return [(-x, y) if mirror else (x, y) for x, y in points]


# Triangles fill the canvas width; their vertical extent is centred.
_TRIANGLE_HALF_SIDE = 0.98
_TRIANGLE_HEIGHT = 2 * _TRIANGLE_HALF_SIDE * math.sqrt(3) / 2
TRIANGLE_UP: list[Point] = [
    (0.0, -_TRIANGLE_HEIGHT / 2),
    (_TRIANGLE_HALF_SIDE, _TRIANGLE_HEIGHT / 2),
    (-_TRIANGLE_HALF_SIDE, _TRIANGLE_HEIGHT / 2),
]
TRIANGLE_DOWN: list[Point] = [(x, -y) for x, y in TRIANGLE_UP]
# Where a warning triangle's pictogram sits (the triangle's centroid is below the canvas centre).
WARNING_CENTRE_Y = 0.2


# --------------------------------------------------------------------------------------------------
# Sign bodies
# --------------------------------------------------------------------------------------------------


def circle_with_ring(canvas: Canvas, style: SignStyle, ring: RGB, inner: RGB, ring_width: float = 0.19) -> float:
    """A round sign: thin white rim, a coloured ring, an inner disc. Returns the inner radius."""
    canvas.disc(0, 0, 0.995, style.white)
    canvas.disc(0, 0, 0.965, ring)
    inner_radius = 0.965 - ring_width * style.border_scale
    canvas.disc(0, 0, inner_radius, inner)
    return inner_radius


def blue_disc(canvas: Canvas, style: SignStyle) -> None:
    canvas.disc(0, 0, 0.995, style.white)
    canvas.disc(0, 0, 0.965, style.blue)


def warning_triangle(canvas: Canvas, style: SignStyle, points: Sequence[Point]) -> None:
    """A red-bordered white triangle with rounded corners and a thin white outer rim."""
    canvas.rounded_polygon(points, 0.1, style.white)
    red = inset_polygon(points, 0.03)
    canvas.rounded_polygon(red, 0.08, style.red)
    canvas.rounded_polygon(inset_polygon(red, 0.17 * style.border_scale), 0.03, style.white)


def draw_text(
    canvas: Canvas,
    style: SignStyle,
    font: FontSpec,
    text: str,
    height: float,
    max_width: float,
    centre: Point,
    fill: RGB,
    squeeze: float = 1.0,
) -> None:
    """Draw ``text`` so its ink is exactly ``height`` tall, squeezed to fit ``max_width``, centred."""
    target_height = max(4, round(canvas.length(height)))
    glyph_font = font.load(int(target_height * 1.5))
    weight = max(0, round(style.glyph_weight * target_height * 1.5))
    left, top, right, bottom = glyph_font.getbbox(text, stroke_width=weight)
    mask = Image.new("L", (int(right - left) + 4, int(bottom - top) + 4), 0)
    ImageDraw.Draw(mask).text(
        (2 - left, 2 - top), text, font=glyph_font, fill=255, stroke_width=weight, stroke_fill=255
    )
    ink = mask.getbbox()
    if ink is None:
        return
    mask = mask.crop(ink)
    natural_width = mask.width * target_height / mask.height * squeeze
    target_width = max(4, round(min(natural_width, canvas.length(max_width))))
    mask = mask.resize((target_width, target_height), Image.Resampling.LANCZOS)
    cx, cy = canvas.px(*centre)
    colour = Image.new("RGBA", mask.size, (*fill, 255))
    canvas.image.paste(colour, (round(cx - target_width / 2), round(cy - target_height / 2)), mask)


# --------------------------------------------------------------------------------------------------
# Pictograms (black on white for warning signs, white on blue for mandatory signs)
# --------------------------------------------------------------------------------------------------


def arrow_head(canvas: Canvas, tip: Point, direction: Point, length: float, half_width: float, fill: RGB) -> None:
    dx, dy = direction
    norm = math.hypot(dx, dy)
    dx, dy = dx / norm, dy / norm
    base = (tip[0] - dx * length, tip[1] - dy * length)
    canvas.polygon(
        [
            tip,
            (base[0] - dy * half_width, base[1] + dx * half_width),
            (base[0] + dy * half_width, base[1] - dx * half_width),
        ],
        fill,
    )


def draw_arrow(canvas: Canvas, style: SignStyle, path: Sequence[Point], fill: RGB, width: float = 0.2) -> None:
    """A white mandatory-sign arrow along ``path``: a flat-ended shaft and a head at the last point."""
    scale = style.pictogram_scale
    path = [(x * scale, y * scale) for x, y in path]
    shaft_width = width * style.stroke_scale * scale
    head_length = 0.34 * scale
    tip = path[-1]
    before = path[-2]
    dx, dy = tip[0] - before[0], tip[1] - before[1]
    norm = math.hypot(dx, dy)
    shaft_end = (tip[0] - dx / norm * head_length * 0.9, tip[1] - dy / norm * head_length * 0.9)
    canvas.stroke([*path[:-1], shaft_end], shaft_width, fill, round_ends=False)
    arrow_head(canvas, tip, (dx, dy), head_length, 0.3 * scale, fill)


def curve(start: Point, corner: Point, end: Point, steps: int = 12) -> list[Point]:
    """A quadratic Bézier from ``start`` to ``end`` bent towards ``corner``."""
    points = []
    for k in range(steps + 1):
        t = k / steps
        points.append(
            (
                (1 - t) ** 2 * start[0] + 2 * (1 - t) * t * corner[0] + t**2 * end[0],
                (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * corner[1] + t**2 * end[1],
            )
        )
    return points


def person(canvas: Canvas, style: SignStyle, origin: Point, size: float, pose: str, fill: RGB) -> None:
    """A pictogram person ``size`` tall whose feet are at ``origin``; pose is 'walk', 'run' or 'dig'."""
    ox, oy = origin
    w = 0.16 * size * style.stroke_scale  # limb width

    def at(x: float, y: float) -> Point:
        return (ox + x * size, oy - y * size)

    if pose == "dig":
        hip, shoulder, head = at(-0.08, 0.45), at(0.18, 0.78), at(0.3, 0.92)
        canvas.stroke([hip, shoulder], w * 1.25, fill)
        canvas.disc(*head, 0.09 * size, fill)
        canvas.stroke([hip, at(-0.2, 0.22), at(-0.18, 0.0)], w, fill)
        canvas.stroke([hip, at(0.08, 0.2), at(0.12, 0.0)], w, fill)
        canvas.stroke([at(0.12, 0.72), at(0.32, 0.45)], w * 0.8, fill)
        # The shovel: a handle from the hands into the pile.
        canvas.stroke([at(0.15, 0.62), at(0.52, 0.16)], w * 0.55, fill)
        canvas.polygon([at(0.45, 0.2), at(0.62, 0.04), at(0.56, 0.0), at(0.4, 0.12)], fill)
        return
    lean = 0.1 if pose == "run" else 0.03
    stride = 0.3 if pose == "run" else 0.2
    hip, shoulder = at(0.0, 0.45), at(lean, 0.78)
    canvas.stroke([hip, shoulder], w * 1.3, fill)
    canvas.disc(*at(lean + 0.03, 0.92), 0.095 * size, fill)
    canvas.stroke([hip, at(-stride * 0.6, 0.22), at(-stride, 0.0)], w, fill)
    canvas.stroke([hip, at(stride * 0.5, 0.22), at(stride * 0.9, 0.02)], w, fill)
    canvas.stroke([at(lean, 0.74), at(-0.18, 0.56), at(-0.2, 0.42)], w * 0.8, fill)
    canvas.stroke([at(lean, 0.74), at(0.2, 0.58), at(0.3, 0.5)], w * 0.8, fill)


def car_rear(canvas: Canvas, centre: Point, scale: float, fill: RGB, background: RGB) -> None:
    """A car seen from behind, as on the no-passing sign."""
    cx, cy = centre

    def at(x: float, y: float) -> Point:
        return (cx + x * scale, cy + y * scale)

    canvas.rounded_polygon([at(-0.2, -0.32), at(0.2, -0.32), at(0.26, -0.08), at(-0.26, -0.08)], 0.03 * scale, fill)
    canvas.rounded_polygon([at(-0.33, -0.12), at(0.33, -0.12), at(0.33, 0.2), at(-0.33, 0.2)], 0.05 * scale, fill)
    canvas.rounded_polygon(
        [at(-0.14, -0.27), at(0.14, -0.27), at(0.18, -0.12), at(-0.18, -0.12)], 0.02 * scale, background
    )
    canvas.polygon([at(-0.3, 0.18), at(-0.16, 0.18), at(-0.16, 0.34), at(-0.3, 0.34)], fill)
    canvas.polygon([at(0.16, 0.18), at(0.3, 0.18), at(0.3, 0.34), at(0.16, 0.34)], fill)
    canvas.disc(*at(-0.22, 0.03), 0.05 * scale, background)
    canvas.disc(*at(0.22, 0.03), 0.05 * scale, background)


# --------------------------------------------------------------------------------------------------
# One drawing function per sign
# --------------------------------------------------------------------------------------------------

DrawFunction = Callable[[Canvas, SignStyle, FontSpec], None]


def speed_limit(value: int) -> DrawFunction:
    def draw(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
        inner = circle_with_ring(canvas, style, style.red, style.white)
        text = str(value)
        max_width = inner * (1.5 if len(text) == 3 else 1.3)
        draw_text(
            canvas,
            style,
            font,
            text,
            style.numeral_height,
            max_width,
            (0, 0),
            style.black,
            squeeze=style.numeral_squeeze,
        )

    return draw


def draw_stop(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    octagon = regular_polygon(8, 1.0, 22.5)
    canvas.rounded_polygon(octagon, 0.04, style.white)
    canvas.rounded_polygon(inset_polygon(octagon, 0.05 * style.border_scale), 0.03, style.red)
    draw_text(
        canvas,
        style,
        font,
        "STOP",
        0.42 * style.pictogram_scale,
        1.45,
        (0, 0),
        style.white,
        squeeze=min(1.0, style.numeral_squeeze + 0.1),
    )


def draw_yield(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    warning_triangle(canvas, style, [(x, y - 0.02) for x, y in TRIANGLE_DOWN])


def draw_no_entry(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    canvas.disc(0, 0, 0.995, style.white)
    canvas.disc(0, 0, 0.965, style.red)
    half_length, half_height = 0.68 * style.pictogram_scale, 0.17 * style.stroke_scale
    canvas.polygon(
        [
            (-half_length, -half_height),
            (half_length, -half_height),
            (half_length, half_height),
            (-half_length, half_height),
        ],
        style.white,
    )


def draw_priority_road(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    diamond = regular_polygon(4, 0.99, -90)
    canvas.rounded_polygon(diamond, 0.04, style.black)
    canvas.rounded_polygon(inset_polygon(diamond, 0.025), 0.03, style.white)
    yellow_radius = 0.56 * style.pictogram_scale
    canvas.rounded_polygon(regular_polygon(4, yellow_radius + 0.02, -90), 0.02, style.black)
    canvas.rounded_polygon(regular_polygon(4, yellow_radius, -90), 0.02, style.yellow)


def draw_no_vehicles(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    circle_with_ring(canvas, style, style.red, style.white)


def draw_no_passing(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    circle_with_ring(canvas, style, style.red, style.white)
    scale = 0.88 * style.pictogram_scale
    car_rear(canvas, (-0.31, 0.03), scale, style.red, style.white)
    car_rear(canvas, (0.31, 0.03), scale, style.black, style.white)


def draw_end_of_limits(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
    canvas.disc(0, 0, 0.995, (60, 60, 60))
    canvas.disc(0, 0, 0.955, style.white)
    stripes = Canvas(canvas.size)
    width = 0.045 * style.stroke_scale
    for offset in (-0.3, -0.15, 0.0, 0.15, 0.3):
        # Running from upper right to lower left; the offset is perpendicular to the stripes.
        shift = offset * math.sqrt(2)
        stripes.stroke(
            [(1.0 + shift / 2, -1.0 + shift / 2), (-1.0 + shift / 2, 1.0 + shift / 2)],
            width,
            style.black,
            round_ends=False,
        )
    clip = Image.new("L", (canvas.size, canvas.size), 0)
    clip_canvas = ImageDraw.Draw(clip)
    x0, y0 = canvas.px(-0.82, -0.82)
    x1, y1 = canvas.px(0.82, 0.82)
    clip_canvas.ellipse((x0, y0, x1, y1), fill=255)
    canvas.paste_layer(stripes.image, clip)


def warning(pictogram: Callable[[Canvas, SignStyle], None]) -> DrawFunction:
    def draw(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
        warning_triangle(canvas, style, TRIANGLE_UP)
        pictogram(canvas, style)

    return draw


def pictogram_caution(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    top, bottom = WARNING_CENTRE_Y - 0.42 * s, WARNING_CENTRE_Y + 0.16 * s
    half_top, half_bottom = 0.085 * s * style.stroke_scale, 0.055 * s * style.stroke_scale
    canvas.rounded_polygon(
        [(-half_top, top), (half_top, top), (half_bottom, bottom), (-half_bottom, bottom)], 0.02, style.black
    )
    canvas.disc(0, WARNING_CENTRE_Y + 0.31 * s, 0.085 * s * style.stroke_scale, style.black)


def pictogram_right_of_way(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    cy = WARNING_CENTRE_Y + 0.03
    canvas.stroke([(0, cy - 0.44 * s), (0, cy + 0.4 * s)], 0.15 * s * style.stroke_scale, style.black, round_ends=False)
    canvas.stroke(
        [(-0.3 * s, cy - 0.05 * s), (0.3 * s, cy - 0.05 * s)],
        0.08 * s * style.stroke_scale,
        style.black,
        round_ends=False,
    )


def pictogram_pedestrians(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    person(canvas, style, (0.0, WARNING_CENTRE_Y + 0.42 * s), 0.82 * s, "walk", style.black)


def pictogram_children(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    base_y = WARNING_CENTRE_Y + 0.42 * s
    person(canvas, style, (-0.17 * s, base_y), 0.78 * s, "run", style.black)
    # The girl's skirt makes the left child unmistakably a child pictogram, not the pedestrian.
    canvas.polygon(
        [
            (-0.17 * s - 0.15 * s, base_y - 0.2 * s),
            (-0.17 * s + 0.17 * s, base_y - 0.2 * s),
            (-0.17 * s + 0.04 * s, base_y - 0.5 * s),
            (-0.17 * s - 0.04 * s, base_y - 0.5 * s),
        ],
        style.black,
    )
    person(canvas, style, (0.2 * s, base_y), 0.58 * s, "run", style.black)


def pictogram_road_work(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    base_y = WARNING_CENTRE_Y + 0.42 * s
    person(canvas, style, (-0.16 * s, base_y), 0.78 * s, "dig", style.black)
    # The heap of earth to the right of the worker.
    canvas.polygon(
        [
            (0.1 * s, base_y),
            (0.42 * s, base_y),
            (0.36 * s, base_y - 0.12 * s),
            (0.22 * s, base_y - 0.17 * s),
            (0.14 * s, base_y - 0.08 * s),
        ],
        style.black,
    )


def pictogram_traffic_signals(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    cy = WARNING_CENTRE_Y + 0.02
    half_width, half_height = 0.15 * s, 0.44 * s
    canvas.rounded_polygon(
        [
            (-half_width, cy - half_height),
            (half_width, cy - half_height),
            (half_width, cy + half_height),
            (-half_width, cy + half_height),
        ],
        0.05 * s,
        style.black,
    )
    radius = 0.105 * s
    for offset, colour in ((-0.28, style.red), (0.0, style.yellow), (0.28, (20, 160, 70))):
        canvas.disc(0, cy + offset * s, radius, colour)


def mandatory(pictogram: Callable[[Canvas, SignStyle], None]) -> DrawFunction:
    def draw(canvas: Canvas, style: SignStyle, font: FontSpec) -> None:
        blue_disc(canvas, style)
        pictogram(canvas, style)

    return draw


def turn_ahead(mirror: bool) -> Callable[[Canvas, SignStyle], None]:
    def draw(canvas: Canvas, style: SignStyle) -> None:
        path = [(-0.22, 0.72), (-0.22, 0.12), *curve((-0.22, 0.12), (-0.22, -0.15), (0.05, -0.15))[1:], (0.7, -0.15)]
        draw_arrow(canvas, style, mirrored(path, mirror), style.white)

    return draw


def ahead_only(canvas: Canvas, style: SignStyle) -> None:
    draw_arrow(canvas, style, [(0, 0.74), (0, -0.72)], style.white)


def keep_side(mirror: bool) -> Callable[[Canvas, SignStyle], None]:
    def draw(canvas: Canvas, style: SignStyle) -> None:
        draw_arrow(canvas, style, mirrored([(-0.5, -0.5), (0.5, 0.5)], mirror), style.white)

    return draw


def straight_or_turn(mirror: bool) -> Callable[[Canvas, SignStyle], None]:
    def draw(canvas: Canvas, style: SignStyle) -> None:
        draw_arrow(canvas, style, mirrored([(-0.15, 0.74), (-0.15, -0.72)], mirror), style.white, width=0.17)
        branch = [(-0.15, 0.42), *curve((-0.15, 0.42), (-0.15, 0.02), (0.2, 0.02))[1:], (0.74, 0.02)]
        draw_arrow(canvas, style, mirrored(branch, mirror), style.white, width=0.17)

    return draw


def roundabout(canvas: Canvas, style: SignStyle) -> None:
    s = style.pictogram_scale
    radius = 0.5 * s
    width = 0.15 * s * style.stroke_scale
    for start_deg in (90.0, 210.0, 330.0):
        # Counter-clockwise on screen (y down): angles decrease along each arrow.
        angles = np.linspace(math.radians(start_deg), math.radians(start_deg - 78), 14)
        points = [(radius * math.cos(a), radius * math.sin(a)) for a in angles]
        canvas.stroke(points[:-2], width, style.white, round_ends=False)
        end_angle = angles[-1]
        tip = (radius * math.cos(end_angle), radius * math.sin(end_angle))
        tangent = (math.sin(end_angle), -math.cos(end_angle))
        arrow_head(
            canvas,
            (tip[0] + tangent[0] * 0.1 * s, tip[1] + tangent[1] * 0.1 * s),
            tangent,
            0.26 * s,
            0.2 * s,
            style.white,
        )


# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignClass:
    gtsrb_id: int
    name: str  # GTSRB's standard English name
    draw: DrawFunction
    uses_font: bool = False  # whether the font changes the rendering (numerals, STOP)


CATALOGUE: tuple[SignClass, ...] = (
    SignClass(0, "Speed limit (20km/h)", speed_limit(20), uses_font=True),
    SignClass(1, "Speed limit (30km/h)", speed_limit(30), uses_font=True),
    SignClass(2, "Speed limit (50km/h)", speed_limit(50), uses_font=True),
    SignClass(3, "Speed limit (60km/h)", speed_limit(60), uses_font=True),
    SignClass(4, "Speed limit (70km/h)", speed_limit(70), uses_font=True),
    SignClass(5, "Speed limit (80km/h)", speed_limit(80), uses_font=True),
    SignClass(7, "Speed limit (100km/h)", speed_limit(100), uses_font=True),
    SignClass(8, "Speed limit (120km/h)", speed_limit(120), uses_font=True),
    SignClass(9, "No passing", draw_no_passing),
    SignClass(11, "Right-of-way at the next intersection", warning(pictogram_right_of_way)),
    SignClass(12, "Priority road", draw_priority_road),
    SignClass(13, "Yield", draw_yield),
    SignClass(14, "Stop", draw_stop, uses_font=True),
    SignClass(15, "No vehicles", draw_no_vehicles),
    SignClass(17, "No entry", draw_no_entry),
    SignClass(18, "General caution", warning(pictogram_caution)),
    SignClass(25, "Road work", warning(pictogram_road_work)),
    SignClass(26, "Traffic signals", warning(pictogram_traffic_signals)),
    SignClass(27, "Pedestrians", warning(pictogram_pedestrians)),
    SignClass(28, "Children crossing", warning(pictogram_children)),
    SignClass(32, "End of all speed and passing limits", draw_end_of_limits),
    SignClass(33, "Turn right ahead", mandatory(turn_ahead(mirror=False))),
    SignClass(34, "Turn left ahead", mandatory(turn_ahead(mirror=True))),
    SignClass(35, "Ahead only", mandatory(ahead_only)),
    SignClass(36, "Go straight or right", mandatory(straight_or_turn(mirror=False))),
    SignClass(37, "Go straight or left", mandatory(straight_or_turn(mirror=True))),
    SignClass(38, "Keep right", mandatory(keep_side(mirror=False))),
    SignClass(39, "Keep left", mandatory(keep_side(mirror=True))),
    SignClass(40, "Roundabout mandatory", mandatory(roundabout)),
)

# The classes the engine contract requires (GTSRB ids); the catalogue may hold more.
REQUIRED_GTSRB_IDS: frozenset[int] = frozenset(
    {0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 14, 17, 18, 25, 26, 27, 28, 33, 34, 35, 38, 40}
)


def render_sign(sign: SignClass, font: FontSpec, rng: np.random.Generator, size: int = 160) -> Image.Image:
    """Render ``sign`` as a ``size``x``size`` RGBA image (transparent outside the sign's shape)."""
    style = SignStyle.sample(rng)
    canvas = Canvas(size * SUPERSAMPLE)
    sign.draw(canvas, style, font)
    # Downscale premultiplied ("RGBa") so transparent pixels do not bleed black into the edges.
    premultiplied = canvas.image.convert("RGBa").resize((size, size), Image.Resampling.LANCZOS)
    return premultiplied.convert("RGBA")
