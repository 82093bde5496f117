"""The catalogue's SVG product pictures: well-formed, escaped, small, and true to the variant."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from shop.catalog.pictures import gauge_colour, needle_svg

SVG = "{http://www.w3.org/2000/svg}"
GAUGES = range(27, 35)
LENGTHS = (1.5, 4, 13)
PINS = (1, 3, 5, 7, 9)


def svg(gauge: int = 32, length_mm: float = 4, pins: int = 1, title: str = "Meso needle") -> str:
    return needle_svg(gauge=gauge, length_mm=length_mm, pins=pins, title=title)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [el for el in root.iter() if el.get("class") == name]


def cannula_width(length_mm: float, gauge: int = 32) -> float:
    (cannula,) = with_class(parse(svg(gauge=gauge, length_mm=length_mm)), "cannula")
    return float(cannula.get("width", "nan"))


@pytest.mark.parametrize(
    ("gauge", "length_mm", "pins"), list(itertools.product(GAUGES, LENGTHS, PINS))
)
def test_well_formed_svg_for_the_grid(gauge: int, length_mm: float, pins: int) -> None:
    root = parse(svg(gauge, length_mm, pins))
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 480 320"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "t"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.get("id") == "t"
    assert root.find(f"{SVG}defs/{SVG}linearGradient") is not None


def test_starts_with_the_root_element() -> None:
    assert svg().startswith(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 480 320" role="img"'
        ' aria-labelledby="t">'
    )


def test_gauge_colour_palette() -> None:
    assert gauge_colour(32) == ("green", "#2E8B57")
    assert gauge_colour(27) == ("medium grey", "#808080")
    assert gauge_colour(18) == ("pink", "#F5A9B8")
    assert gauge_colour(34) == ("pale green", "#98D8A0")


@pytest.mark.parametrize("pins", [1, 5])
def test_hub_colour_of_32g_appears(pins: int) -> None:
    text = svg(gauge=32, pins=pins)
    assert "#2E8B57" in text
    assert "#808080" not in text


def test_title_is_escaped_and_round_trips() -> None:
    title = '<x> & "y"'
    for pins in (1, 5):
        text = svg(pins=pins, title=title)
        assert "<x>" not in text
        found = parse(text).find(f"{SVG}title")
        assert found is not None
        assert found.text == title


def test_characters_xml_cannot_carry_are_dropped_from_the_title() -> None:
    found = parse(svg(title="a\x00b\x0bc")).find(f"{SVG}title")
    assert found is not None
    assert found.text == "abc"


@pytest.mark.parametrize("pins", range(1, 13))
def test_one_pin_element_per_pin(pins: int) -> None:
    assert len(with_class(parse(svg(pins=pins)), "pin")) == pins


def test_single_needle_has_one_cannula_and_multi_injector_none() -> None:
    assert len(with_class(parse(svg(pins=1)), "cannula")) == 1
    assert with_class(parse(svg(pins=7)), "cannula") == []


def test_labels() -> None:
    texts = ["".join(el.itertext()) for el in parse(svg(32, 4, 1)).iter(f"{SVG}text")]
    assert "32G × 4 mm" in texts
    texts = ["".join(el.itertext()) for el in parse(svg(32, 1.5, 5)).iter(f"{SVG}text")]
    assert "5 pins · 32G × 1.5 mm" in texts


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gauge": 17},
        {"gauge": 35},
        {"pins": 0},
        {"pins": 13},
        {"length_mm": 0},
        {"length_mm": -1},
        {"length_mm": float("nan")},
    ],
)
def test_invalid_arguments_raise_value_error(kwargs: dict[str, float]) -> None:
    args = {"gauge": 32, "length_mm": 4, "pins": 1, "title": "x"} | kwargs
    with pytest.raises(ValueError):
        needle_svg(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("gauge", [17, 35])
def test_gauge_colour_rejects_unknown_gauges(gauge: int) -> None:
    with pytest.raises(ValueError):
        gauge_colour(gauge)


def test_size_under_6_kb() -> None:
    long_title = "Multi-injector ⟨premium⟩ & co " * 8
    for gauge, length_mm, pins in itertools.product(range(18, 35), (1.5, 13, 50), range(1, 13)):
        size = len(svg(gauge, length_mm, pins, long_title).encode("utf-8"))
        assert size < 6 * 1024, (gauge, length_mm, pins, size)


@pytest.mark.parametrize("gauge", GAUGES)
def test_longer_needle_draws_longer_cannula(gauge: int) -> None:
    widths = [cannula_width(length, gauge) for length in (1.5, 4, 6, 13, 25)]
    assert widths == sorted(widths)
    assert len(set(widths)) == len(widths)


def test_thinner_gauge_draws_thinner_cannula() -> None:
    def height(gauge: int) -> float:
        (cannula,) = with_class(parse(svg(gauge=gauge)), "cannula")
        return float(cannula.get("height", "nan"))

    assert height(27) > height(30) > height(34)


def test_deterministic() -> None:
    for pins in PINS:
        assert svg(30, 4, pins, "t") == svg(30, 4, pins, "t")


def test_self_contained() -> None:
    for pins in (1, 9):
        text = svg(pins=pins)
        assert "<script" not in text
        assert "<image" not in text
        assert "<foreignObject" not in text
        assert re.findall(r"https?://[^\"]*", text) == ["http://www.w3.org/2000/svg"]
        assert set(re.findall(r"url\(([^)]*)\)", text)) <= {"#bg", "#m", "#s", "#rm", "#pl"}
        assert set(re.findall(r'href="([^"]*)"', text)) <= {"#p"}
