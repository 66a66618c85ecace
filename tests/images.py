"""Test images made with Pillow, from the FreeType font Pillow itself ships (no downloads)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw, ImageFont


def text_image(
    lines: list[str], *, size: int = 40, padding: int = 30, background: str = "white", ink: str = "black"
) -> Image.Image:
    """Black text on white, one line per entry, with room around it like a photographed label."""
    font = ImageFont.load_default(size=size)
    widths = [int(font.getlength(line)) for line in lines]
    line_height = int(size * 1.6)
    image = Image.new(
        "RGB", (max(widths, default=10) + 2 * padding, line_height * len(lines) + 2 * padding), background
    )
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((padding, padding + index * line_height), line, font=font, fill=ink)
    return image


def encode(image: Image.Image, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height but carries almost no data: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(8, int(len(data) * keep))]


def jpeg_with_corrupt_exif() -> bytes:
    """A sound JPEG whose EXIF asks for a turn (Orientation 6) and holds an IFD entry Pillow cannot
    write back (ImageWidth as a negative SSHORT): turning it upright raises struct.error."""
    entries = [(0x0100, 8, 1, struct.pack("<hh", -5, 0)), (0x0112, 3, 1, struct.pack("<HH", 6, 0))]
    ifd = struct.pack("<H", len(entries))
    ifd += b"".join(struct.pack("<HHI", tag, kind, count) + value for tag, kind, count, value in entries)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)
    return encode(text_image(["EXIF"]), "JPEG", exif=exif)


def sliver(width: int = 1, height: int = 40_000) -> bytes:
    """A PNG of a 1-pixel line: few pixels, but a shape no model can take (OCR's resize to 0 pixels)."""
    return encode(Image.new("RGB", (width, height), "white"))
