"""As the buyer types in the header's search box, products are offered under it; choosing
one opens its page, and Enter still searches what was typed."""

from __future__ import annotations


def test_typing_offers_products_and_choosing_one_opens_it(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None
) -> None:
    page.goto(f"{live_server}/guides")
    box = page.get_by_label("Search needles")
    box.press_sequentially("32g 4", delay=30)
    page.wait_for_function(
        "() => document.querySelectorAll('#site-q-suggestions option').length > 0"
    )
    offered = page.eval_on_selector_all(
        "#site-q-suggestions option", "options => options.map(o => o.value)"
    )
    assert "Meso Needle 32G" in offered
    page.evaluate(
        """() => {
            const box = document.getElementById('site-q');
            box.value = 'Meso Needle 32G';
            box.dispatchEvent(new InputEvent('input', {inputType: 'insertReplacementText'}));
        }"""
    )
    page.wait_for_url("**/products/meso-needle-32g")


def test_enter_searches_what_was_typed(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None
) -> None:
    page.goto(f"{live_server}/")
    box = page.get_by_label("Search needles")
    box.press_sequentially("5-pin", delay=30)
    box.press("Enter")
    page.wait_for_url("**/products?q=5-pin")
    assert "Multi-Injector 5 Pins" in page.locator("main").inner_text()
