"""Reading order: the recogniser's pieces of text grouped into the lines a reader sees, top to bottom,
and left to right within a line, so that a label reads like the page ("TABLE 12" / "Reserved 19:45",
not "TABLE" / "12" / "Reserved" / "19:45", nor a page's lines out of order)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

# Two pieces are on one line when their vertical extents overlap by at least this share of the
# shorter one's height (a tilted photo still leaves neighbours on a line overlapping heavily).
SAME_LINE_OVERLAP = 0.5


@dataclass(frozen=True)
class Piece:
    text: str
    confidence: float
    box: list[list[int]]  # 4 points, clockwise from top-left, in the image's pixels

    @property
    def left(self) -> int:
        return min(x for x, _ in self.box)

    @property
    def right(self) -> int:
        return max(x for x, _ in self.box)

    @property
    def top(self) -> int:
        return min(y for _, y in self.box)

    @property
    def bottom(self) -> int:
        return max(y for _, y in self.box)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


def _overlap_share(a_top: float, a_bottom: float, b_top: float, b_bottom: float) -> float:
    overlap = min(a_bottom, b_bottom) - max(a_top, b_top)
    shorter = max(1.0, min(a_bottom - a_top, b_bottom - b_top))
    return overlap / shorter


def group_lines(pieces: Sequence[Piece]) -> list[Piece]:
    """The pieces merged into lines (text joined by a space, the mean confidence, the bounding box),
    ordered top to bottom."""
    lines: list[list[Piece]] = []
    for piece in sorted(pieces, key=lambda piece: piece.middle):
        best, best_share = None, SAME_LINE_OVERLAP
        for line in lines[-3:]:  # pieces come in vertical order: a line is only ever near the last few
            top, bottom = fmean(p.top for p in line), fmean(p.bottom for p in line)
            share = _overlap_share(top, bottom, piece.top, piece.bottom)
            if share >= best_share:
                best, best_share = line, share
        if best is None:
            lines.append([piece])
        else:
            best.append(piece)
    merged = [_merge(sorted(line, key=lambda piece: piece.left)) for line in lines]
    return sorted(merged, key=lambda line: line.middle)


def _merge(line: Sequence[Piece]) -> Piece:
    if len(line) == 1:
        return line[0]
    left, right = min(p.left for p in line), max(p.right for p in line)
    top, bottom = min(p.top for p in line), max(p.bottom for p in line)
    return Piece(
        " ".join(piece.text for piece in line),
        fmean(piece.confidence for piece in line),
        [[left, top], [right, top], [right, bottom], [left, bottom]],
    )
