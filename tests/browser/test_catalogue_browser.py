"""A buyer in Chromium filters by gauge, opens a product and reads its specs."""

from __future__ import annotations


def test_filter_by_gauge_open_product_and_read_specs(page, live_server: str, demo: None) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/products")
    page.get_by_label("34G").check()
    page.get_by_role("button", name="Show needles").click()
    page.wait_for_url("**/products?*gauge=34*")
    cards = page.locator(".card-name")
    assert cards.all_inner_texts() == ["Meso Needle 34G", "Multi-Injector 5 Pins 34G"]
    assert page.get_by_role("status").inner_text().startswith("2 products")

    cards.first.click()
    page.wait_for_url("**/products/meso-needle-34g")
    assert page.get_by_role("heading", level=1).inner_text() == "Meso Needle 34G"
    specs = page.locator("section", has=page.get_by_role("heading", name="Specifications"))
    assert "34G: 0.18 mm" in specs.inner_text()
    sterility = page.locator(
        "section", has=page.get_by_role("heading", name="Sterility and compliance")
    )
    text = sterility.inner_text()
    assert "Ethylene oxide (EO)" in text
    assert "Single use" in text and "Latex-free" in text
    assert "Earliest lot shipped now expires" in text
    assert page.locator("table.variants tbody tr").count() == 3
    assert page.locator("form.add-to-cart input[name=csrf_token]").first.get_attribute("value")
