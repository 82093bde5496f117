"""SVG product pictures for the catalogue: a meso needle or a multi-injector head.

Pure standard library. The output is deterministic (same arguments give the same bytes),
self-contained (no external references, fonts or scripts) and well-formed XML.
"""

from __future__ import annotations

import math
import re
from xml.sax.saxutils import escape

__all__ = ["gauge_colour", "needle_svg"]

# The shop's palette for the ISO 6009 hub colour code: gauge -> (colour name, hex).
_HUB_COLOURS: dict[int, tuple[str, str]] = {
    18: ("pink", "#F5A9B8"),
    19: ("cream", "#F3E5AB"),
    20: ("yellow", "#FFD700"),
    21: ("deep green", "#006400"),
    22: ("black", "#222222"),
    23: ("deep blue", "#00308F"),
    24: ("medium purple", "#9370DB"),
    25: ("orange", "#FF8C00"),
    26: ("brown", "#8B4513"),
    27: ("medium grey", "#808080"),
    28: ("blue-green", "#0D98BA"),
    29: ("red", "#D62828"),
    30: ("yellow", "#F5D300"),
    31: ("grey-green", "#8A9A5B"),
    32: ("green", "#2E8B57"),
    33: ("blue", "#1E64C8"),
    34: ("pale green", "#98D8A0"),
}

MIN_PINS = 1
MAX_PINS = 12

_FONT = 'font-family="system-ui, sans-serif"'
# Characters that XML 1.0 does not allow at all (escaping cannot help them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Shared gradients; they do not depend on the arguments. (The pictures are served as <img>.)
_DEFS = (
    "<defs>"
    '<linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">'
    '<stop offset="0" stop-color="#FBFCFD"/><stop offset="1" stop-color="#EBEFF3"/>'
    "</linearGradient>"
    '<linearGradient id="m" x1="0" y1="0" x2="0" y2="1">'
    '<stop offset="0" stop-color="#7B828B"/><stop offset=".3" stop-color="#F7F9FB"/>'
    '<stop offset=".55" stop-color="#C3C9D0"/><stop offset="1" stop-color="#5E656D"/>'
    "</linearGradient>"
    '<linearGradient id="s" x1="0" y1="0" x2="0" y2="1">'
    '<stop offset="0" stop-color="#fff" stop-opacity=".55"/>'
    '<stop offset=".45" stop-color="#fff" stop-opacity="0"/>'
    '<stop offset="1" stop-color="#000" stop-opacity=".22"/>'
    "</linearGradient>"
    '<radialGradient id="rm" cx=".35" cy=".35" r=".75">'
    '<stop offset="0" stop-color="#FFFFFF"/><stop offset=".5" stop-color="#BCC3CB"/>'
    '<stop offset="1" stop-color="#5E656D"/>'
    "</radialGradient>"
    '<radialGradient id="pl" cx=".4" cy=".35" r=".8">'
    '<stop offset="0" stop-color="#FFFFFF"/><stop offset="1" stop-color="#DCE2E8"/>'
    "</radialGradient>"
    "</defs>"
)


def gauge_colour(gauge: int) -> tuple[str, str]:
    """(colour name, hex) of the ISO 6009 hub colour code for that gauge."""
    if isinstance(gauge, bool) or not isinstance(gauge, int):
        raise TypeError(f"gauge must be an int, not {type(gauge).__name__}")
    try:
        return _HUB_COLOURS[gauge]
    except KeyError:
        raise ValueError(f"no hub colour for {gauge}G (18G to 34G are known)") from None


def needle_svg(*, gauge: int, length_mm: float, pins: int, title: str) -> str:
    """An SVG drawing of a needle (pins == 1) or multi-injector head (pins > 1)."""
    name, hub = gauge_colour(gauge)
    if isinstance(pins, bool) or not isinstance(pins, int):
        raise TypeError(f"pins must be an int, not {type(pins).__name__}")
    if not MIN_PINS <= pins <= MAX_PINS:
        raise ValueError(f"pins must be between {MIN_PINS} and {MAX_PINS}, not {pins}")
    length = float(length_mm)
    if not math.isfinite(length) or length <= 0:
        raise ValueError(f"length_mm must be a positive number, not {length_mm!r}")
    body = (
        _single(gauge, length, hub, name) if pins == 1 else _multi(gauge, length, pins, hub, name)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 320" role="img"'
        ' aria-labelledby="t">'
        f'<title id="t">{_text(title)}</title>{_DEFS}'
        '<rect width="480" height="320" rx="16" fill="url(#bg)"/>'
        f"{body}</svg>"
    )


# -- helpers ------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Escaped text content, without characters XML cannot carry."""
    return escape(_NOT_XML.sub("", str(value)))


def _f(x: float) -> str:
    """A coordinate with at most one decimal, without a trailing '.0' or a '-0'."""
    s = f"{x:.1f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _mm(length: float) -> str:
    """A length in mm as a buyer reads it: 1.5, 4, 13."""
    return f"{length:g}"


def _shade(hex_colour: str, factor: float) -> str:
    """The colour darkened by factor (0..1)."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02X}{:02X}{:02X}".format(*(round(c * factor) for c in (r, g, b)))


def _rib(hex_colour: str) -> str:
    """A colour for grip ribs that shows on the hub: darker, or lighter on very dark hubs."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    if 0.2126 * r + 0.7152 * g + 0.0722 * b < 70:
        return "#{:02X}{:02X}{:02X}".format(*(round(c + (255 - c) * 0.4) for c in (r, g, b)))
    return _shade(hex_colour, 0.62)


def _scale(x: float, points: tuple[tuple[float, float], ...]) -> float:
    """Piecewise-linear map of x through (x, y) points, clamped at both ends."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def _thickness(gauge: int) -> float:
    """Drawn cannula thickness in px: mildly thicker for lower gauges (34G: 3.4, 27G: 6.9)."""
    return 3.4 + (34 - gauge) * 0.5


def _poly(*pts: tuple[float, float]) -> str:
    return " ".join(f"{_f(x)},{_f(y)}" for x, y in pts)


def _bevel(t: float) -> float:
    """Horizontal run of the bevelled point of a tube t thick."""
    return t * 2.6


def _cannula(x: float, cy: float, width: float, t: float) -> str:
    """The needle's metal tube (its rect has class="cannula") and its bevelled point."""
    top, bot = cy - t / 2, cy + t / 2
    end, tip = x + width, x + width + _bevel(t)
    return (
        f'<rect class="cannula" x="{_f(x)}" y="{_f(top)}" width="{_f(width)}" height="{_f(t)}"'
        ' fill="url(#m)"/>'
        f'<polygon points="{_poly((end, top), (tip, bot), (end, bot))}" fill="url(#m)"/>'
        f'<path d="M{_f(end)} {_f(top)}L{_f(tip)} {_f(bot)}" stroke="#5E656D" stroke-width=".6"/>'
    )


def _side_pin(x: float, cy: float, width: float, t: float) -> str:
    """One pin of a multi-injector seen from the side: a tube with a bevelled point."""
    return (
        f'<path class="pin-side" d="M{_f(x)} {_f(cy - t / 2)}h{_f(width)}l{_f(_bevel(t))} {_f(t)}'
        f'h{_f(-width - _bevel(t))}z" fill="url(#m)" stroke="#7B828B" stroke-width=".4"/>'
    )


def _dimension(x0: float, x1: float, y: float, label: str, *, above: bool) -> str:
    """A dimension line from x0 to x1 with end ticks and its label above or below it."""
    ty = y - 9 if above else y + 18
    return (
        f'<path d="M{_f(x0)} {_f(y)}H{_f(x1)}M{_f(x0)} {_f(y - 5)}v10M{_f(x1)} {_f(y - 5)}v10"'
        ' stroke="#8A939D" stroke-width="1.2" fill="none"/>'
        f'<text x="{_f((x0 + x1) / 2)}" y="{_f(ty)}" text-anchor="middle" font-size="13"'
        f' fill="#56606A" {_FONT}>{_text(label)}</text>'
    )


def _caption(label: str, hub: str, colour_name: str) -> str:
    """The bottom band: a hub colour swatch, the size, and the colour's name."""
    return (
        '<path d="M24 252H456" stroke="#D5DBE1"/>'
        f'<circle cx="42" cy="286" r="11" fill="{hub}" stroke="{_shade(hub, 0.62)}"'
        ' stroke-width="1.5"/><circle cx="39" cy="282" r="4" fill="#fff" opacity=".35"/>'
        f'<text x="64" y="283" font-size="19" font-weight="600" fill="#26303A" {_FONT}>'
        f"{_text(label)}</text>"
        f'<text x="64" y="302" font-size="12" fill="#6A737D" {_FONT}>'
        f"{_text(f'Hub colour: {colour_name} (ISO 6009)')}</text>"
    )


def _hub(x: float, cy: float, hub: str, half: float, length: float, end_half: float) -> str:
    """A Luer-lock hub seen from the side: lugs, then a tapering grip body with ribs."""
    dark = _shade(hub, 0.62)
    x1 = x + 9
    x2 = x1 + length
    shape = (
        f"M{_f(x)} {_f(cy - half - 8)}h9v8L{_f(x2)} {_f(cy - end_half)}"
        f"V{_f(cy + end_half)}L{_f(x1)} {_f(cy + half)}v8h-9Z"
    )
    ribs = "".join(
        f"M{_f(x1 + 6)} {_f(cy + s * half / 2)}L{_f(x2 - 4)} {_f(cy + s * end_half / 2)}"
        for s in (-1, 1)
    )
    return (
        f'<path d="{shape}" fill="{hub}" stroke="{dark}" stroke-width="1.5"'
        ' stroke-linejoin="round"/>'
        f'<path d="{shape}" fill="url(#s)"/>'
        f'<path d="{ribs}M{_f(x1)} {_f(cy - half)}V{_f(cy + half)}" stroke="{_rib(hub)}"'
        ' stroke-width="1.6" stroke-linecap="round" opacity=".55" fill="none"/>'
    )


# -- single needle --------------------------------------------------------------------------------


def _single(gauge: int, length: float, hub: str, colour_name: str) -> str:
    """A single needle from the side: hub, nose, cannula with its length, caption."""
    cy = 128.0
    t = _thickness(gauge)
    # 1.5 mm .. 13 mm span most of the picture; longer needles (up to 50 mm) gain a little more.
    width = _scale(length, ((0, 16), (1.5, 36), (13, 240), (50, 270)))
    hub_len, nose_len = 102.0, 26.0
    total = 9 + hub_len + nose_len + width + _bevel(t)
    hub_x = max(24.0, (480 - total) / 2)
    nose_x = hub_x + 9 + hub_len
    x = nose_x + nose_len
    tip = x + width + _bevel(t)
    dark = _shade(hub, 0.62)
    nose = _poly((nose_x, cy - 13), (x, cy - t / 2 - 1.5), (x, cy + t / 2 + 1.5), (nose_x, cy + 13))
    return (
        f'<ellipse cx="{_f((hub_x + tip) / 2)}" cy="{_f(cy + 52)}" rx="{_f((tip - hub_x) / 2)}"'
        ' ry="5" fill="#000" opacity=".05"/>'
        f"{_hub(hub_x, cy, hub, 29, hub_len, 15)}"
        f'<polygon points="{nose}" fill="{hub}" stroke="{dark}" stroke-width="1.5"'
        ' stroke-linejoin="round"/>'
        f'<polygon points="{nose}" fill="url(#s)"/>'
        f'<g class="pin">{_cannula(x, cy, width, t)}</g>'
        f"{_dimension(x, tip, cy - 28, f'{_mm(length)} mm', above=True)}"
        f"{_caption(f'{gauge}G × {_mm(length)} mm', hub, colour_name)}"
    )


# -- multi-injector -------------------------------------------------------------------------------


def _ring(n: int, r: float) -> list[tuple[float, float]]:
    """n points on a circle of radius r, the first at the top."""
    angles = (2 * math.pi * i / n - math.pi / 2 for i in range(n))
    return [(r * math.cos(a), r * math.sin(a)) for a in angles]


def _layout(pins: int) -> list[tuple[float, float]]:
    """Pin positions on a plate of radius 1."""
    if pins == 2:
        return [(-0.4, 0.0), (0.4, 0.0)]
    if pins == 3:
        return _ring(3, 0.5)
    if pins == 4:
        return [(x, y) for y in (-0.36, 0.36) for x in (-0.36, 0.36)]
    if pins == 5:
        return [(0.0, 0.0), *_ring(4, 0.55)]
    if pins == 9:
        return [(x, y) for y in (-0.48, 0.0, 0.48) for x in (-0.48, 0.0, 0.48)]
    return [(0.0, 0.0), *_ring(pins - 1, 0.6)]


def _multi(gauge: int, length: float, pins: int, hub: str, colour_name: str) -> str:
    """A multi-injector head: side view with pin length, face view with the pins, caption."""
    cy = 126.0
    t = _thickness(gauge) * 0.8
    layout = _layout(pins)
    dark = _shade(hub, 0.62)
    # Side view: the hub, a flared head, its plate and the pins seen edge-on.
    hub_x, hub_len = 24.0, 50.0
    flare_x = hub_x + 9 + hub_len
    plate_x, half = flare_x + 24, 62.0
    x = plate_x + 9
    width = _scale(length, ((0, 6), (1.5, 16), (13, 84), (50, 98)))
    flare = (
        f"M{_f(flare_x)} {_f(cy - 12)}Q{_f(plate_x - 2)} {_f(cy - 14)} {_f(plate_x)} "
        f"{_f(cy - half + 4)}V{_f(cy + half - 4)}Q{_f(plate_x - 2)} {_f(cy + 14)} "
        f"{_f(flare_x)} {_f(cy + 12)}Z"
    )
    plate = f'x="{_f(plate_x)}" y="{_f(cy - half)}" width="9" height="{_f(2 * half)}" rx="3"'
    side_ys = sorted({round(y * (half - 10), 1) for _, y in layout})
    side = "".join(_side_pin(x, cy + y, width, t) for y in side_ys)
    # Face view: the plate from the needles' side, its rim in the hub colour.
    fx, r = 350.0, 84.0
    pin = (
        '<g id="p"><circle r="8" fill="#fff" stroke="#AEB8C2"/>'
        f'<circle r="{_f(1.8 + t * 0.45)}" fill="url(#rm)" stroke="#6E767F" stroke-width=".5"/>'
        f'<circle r="{_f(0.4 + t * 0.15)}" fill="#3F464E"/></g>'
    )
    face = "".join(
        f'<use class="pin" href="#p" x="{_f(fx + px * r)}" y="{_f(cy + py * r)}"/>'
        for px, py in layout
    )
    return (
        f"<defs>{pin}</defs>"
        f'<ellipse cx="120" cy="{_f(cy + half + 12)}" rx="100" ry="5" fill="#000"'
        ' opacity=".05"/>'
        f"{_hub(hub_x, cy, hub, 22, hub_len, 12)}"
        f'<path d="{flare}" fill="url(#pl)" stroke="#98A3AE" stroke-width="1.5"'
        ' stroke-linejoin="round"/>'
        f'<rect {plate} fill="{hub}" stroke="{dark}" stroke-width="1.5"/>'
        f'<rect {plate} fill="url(#s)"/>{side}'
        f"{_dimension(x, x + width + _bevel(t), cy - half - 4, f'{_mm(length)} mm', above=True)}"
        f'<circle cx="{_f(fx + 3)}" cy="{_f(cy + 5)}" r="{_f(r + 3)}" fill="#000" opacity=".06"/>'
        f'<circle cx="{_f(fx)}" cy="{_f(cy)}" r="{_f(r)}" fill="url(#pl)" stroke="{hub}"'
        ' stroke-width="7"/>'
        f'<circle cx="{_f(fx)}" cy="{_f(cy)}" r="{_f(r + 3.5)}" fill="none" stroke="{dark}"'
        ' stroke-width="1.2"/>'
        f'<circle cx="{_f(fx)}" cy="{_f(cy)}" r="{_f(r - 3.5)}" fill="none" stroke="#C4CCD4"/>'
        f"{face}"
        f"{_caption(f'{pins} pins · {gauge}G × {_mm(length)} mm', hub, colour_name)}"
    )
