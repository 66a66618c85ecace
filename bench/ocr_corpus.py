"""What users really photograph, made here with known text (no downloads): the OCR benchmark's corpus.

Each sample is an image and the lines a reader sees on it, top to bottom and left to right:

- photos: 12 MP (4032x3024) phone photos of a card or sign on real photo backgrounds (scikit-image's
  sample photos), slightly turned, softened and JPEG-compressed as a phone camera leaves them;
- a receipt photographed on a table (3024x4032, portrait);
- a phone screenshot (1170x2532) of an app's list;
- a document page (A4 at 200 dpi, 1654x2339) of plain paragraphs;
- small images: the short labels the service already handled well (one line, a few words).

Everything is deterministic: the same images, byte for byte, on every run.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tools.road_signs.signs import LATO_BOLD, FontSpec

REGULAR = FontSpec("Source Sans Pro Regular", "font_source_sans_pro", "SourceSansPro-Regular.ttf")
SEMIBOLD = FontSpec("Source Sans Pro Semibold", "font_source_sans_pro", "SourceSansPro-Semibold.ttf")
LATO = FontSpec("Lato Regular", "font_lato", "Lato-Regular.ttf")
MANROPE = FontSpec("Manrope Medium", "font_manrope", "Manrope-Medium.ttf")


@dataclass(frozen=True)
class Sample:
    name: str
    category: str  # photo | receipt | screenshot | document | small
    image: Image.Image
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def jpeg(self, quality: int = 88) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="JPEG", quality=quality)
        return buffer.getvalue()


def _background(name: str, size: tuple[int, int]) -> Image.Image:
    from skimage import data

    pixels = getattr(data, name)()
    image = Image.fromarray(pixels).convert("RGB")
    return image.resize(size, Image.Resampling.BICUBIC)


def phone_camera(image: Image.Image, seed: int) -> Image.Image:
    """A little softness and sensor noise, then the JPEG a phone saves."""
    rng = np.random.default_rng(seed)
    soft = image.filter(ImageFilter.GaussianBlur(radius=1.2))
    pixels = np.asarray(soft, dtype=np.int16) + rng.normal(0, 3, (soft.height, soft.width, 1)).astype(np.int16)
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=88)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _card(
    lines: tuple[str, ...], font: FontSpec, size: int, paper: tuple[int, int, int], ink: tuple[int, int, int]
) -> Image.Image:
    face = font.load(size)
    widths = [int(face.getlength(line)) for line in lines]
    pad, leading = size, int(size * 1.45)
    card = Image.new("RGBA", (max(widths) + 2 * pad, leading * len(lines) + 2 * pad - (leading - size)), (*paper, 255))
    draw = ImageDraw.Draw(card)
    for index, line in enumerate(lines):
        draw.text((pad, pad + index * leading), line, font=face, fill=ink)
    return card


def phone_photo(
    name: str, background: str, lines: tuple[str, ...], font: FontSpec, size: int, angle: float, seed: int
) -> Sample:
    photo = _background(background, (4032, 3024))
    card = _card(lines, font, size, (246, 242, 232), (28, 28, 30)).rotate(
        angle, expand=True, resample=Image.Resampling.BICUBIC
    )
    rng = random.Random(seed)
    x = rng.randint(200, max(200, photo.width - card.width - 200))
    y = rng.randint(200, max(200, photo.height - card.height - 200))
    photo.paste(card, (x, y), card)
    return Sample(name, "photo", phone_camera(photo, seed), lines)


def sign_on_photo(name: str, background: str, lines: tuple[str, ...], size: int, seed: int) -> Sample:
    """Bold white letters with a dark outline straight on the picture, as on a poster or a shop sign."""
    photo = _background(background, (4032, 3024))
    draw = ImageDraw.Draw(photo)
    face = LATO_BOLD.load(size)
    y = 500
    for line in lines:
        x = (photo.width - int(face.getlength(line))) // 2
        draw.text((x, y), line, font=face, fill=(255, 255, 255), stroke_width=size // 14, stroke_fill=(15, 15, 15))
        y += int(size * 1.5)
    return Sample(name, "photo", phone_camera(photo, seed), lines)


RECEIPT_LINES = (
    "CAFE AURORA",
    "12 Harbour Street",
    "Table 7    Server: Mia",
    "2 Espresso        5.60",
    "1 Croissant       3.20",
    "1 Orange juice    4.10",
    "1 Bagel, salmon   8.90",
    "Subtotal         21.80",
    "VAT 10%           2.18",
    "TOTAL            23.98",
    "Card ****4821",
    "Thank you, see you soon",
)


def receipt_photo() -> Sample:
    paper = _card(RECEIPT_LINES, REGULAR, 46, (250, 249, 244), (35, 35, 40)).rotate(
        1.5, expand=True, resample=Image.Resampling.BICUBIC
    )
    table = _background("gravel", (3024, 4032))
    table.paste(paper, ((table.width - paper.width) // 2, 700), paper)
    return Sample("receipt", "receipt", phone_camera(table, 7), RECEIPT_LINES)


SCREENSHOT_LINES = (
    "9:41",
    "Messages",
    "Anna Berg",
    "See you at the station at 8",
    "Dentist",
    "Your appointment is on Tuesday",
    "Lukas",
    "Can you send me the slides?",
    "Bank",
    "Payment of 42.50 EUR received",
    "Grandma",
    "Happy birthday, my dear!",
)


def screenshot() -> Sample:
    image = Image.new("RGB", (1170, 2532), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((80, 40), SCREENSHOT_LINES[0], font=SEMIBOLD.load(44), fill=(0, 0, 0))
    draw.text((60, 170), SCREENSHOT_LINES[1], font=SEMIBOLD.load(84), fill=(0, 0, 0))
    y = 360
    for sender, preview in zip(SCREENSHOT_LINES[2::2], SCREENSHOT_LINES[3::2], strict=True):
        draw.ellipse((60, y, 200, y + 140), fill=(200, 205, 215))
        draw.text((240, y + 8), sender, font=SEMIBOLD.load(48), fill=(0, 0, 0))
        draw.text((240, y + 76), preview, font=REGULAR.load(42), fill=(120, 120, 128))
        draw.line((240, y + 170, 1170, y + 170), fill=(225, 225, 230), width=2)
        y += 200
    return Sample("screenshot", "screenshot", image, SCREENSHOT_LINES)


DOCUMENT_LINES = (
    "Minutes of the residents' meeting",
    "The meeting opened at seven in the evening with",
    "twenty-three residents present. The treasurer",
    "reported that the repair fund stands at 18,400 euros",
    "after the roof work on the north side. Two quotes",
    "for painting the stairwell were discussed; the",
    "cheaper one was accepted by a show of hands.",
    "Residents asked for the bicycle room to be locked",
    "at night. The caretaker will fit a new lock before",
    "the end of the month and hand out keys on request.",
    "The next meeting is on the fourth of March.",
)


def document_page() -> Sample:
    image = Image.new("RGB", (1654, 2339), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((160, 180), DOCUMENT_LINES[0], font=SEMIBOLD.load(52), fill=(10, 10, 10))
    body = LATO.load(36)
    for index, line in enumerate(DOCUMENT_LINES[1:]):
        draw.text((160, 320 + index * 58), line, font=body, fill=(25, 25, 25))
    return Sample("document", "document", image, DOCUMENT_LINES)


def small(name: str, lines: tuple[str, ...], size: int = 40) -> Sample:
    return Sample(name, "small", _card(lines, REGULAR, size, (255, 255, 255), (0, 0, 0)).convert("RGB"), lines)


CORPUS: tuple[Callable[[], Sample], ...] = (
    lambda: phone_photo("photo-table", "coffee", ("TABLE 12", "Reserved 19:45"), SEMIBOLD, 190, -2.0, 1),
    lambda: phone_photo(
        "photo-notice",
        "immunohistochemistry",
        ("Lift out of order", "Please use the stairs", "Sorry!"),
        LATO,
        150,
        1.5,
        2,
    ),
    lambda: phone_photo(
        "photo-label", "chelsea", ("Organic oat milk", "Best before 14.03.2027", "1 litre"), MANROPE, 120, 3.0, 3
    ),
    lambda: sign_on_photo("photo-sign", "hubble_deep_field", ("OPEN", "7 DAYS A WEEK"), 230, 4),
    receipt_photo,
    screenshot,
    document_page,
    lambda: small("small-one-line", ("Hello Assisti",)),
    lambda: small("small-two-lines", ("Meeting room B", "Floor 3")),
)


@cache
def corpus() -> tuple[Sample, ...]:
    return tuple(make() for make in CORPUS)
