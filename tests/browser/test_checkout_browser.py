"""A buyer in Chromium adds packs, checks out, pays on the Stripe stand-in's page and
comes back to the paid order."""

from __future__ import annotations

from flask import Flask

from tests.stripe_standin import StripeStandIn


def test_add_checkout_pay_and_see_the_paid_order(  # type: ignore[no-untyped-def]
    page, stripe_app: Flask, stripe_standin: StripeStandIn, live_server: str, demo: None
) -> None:
    page.goto(f"{live_server}/products/meso-needle-32g")
    row = page.locator("tr", has=page.locator("th.sku", has_text="MN-32G-4MM-100"))
    row.get_by_label("Packs of MN-32G-4MM-100").fill("3")
    row.get_by_role("button", name="Add").click()
    row.locator(".add-status").get_by_text("Added 3 packs of MN-32G-4MM-100").wait_for()
    page.get_by_role("link", name="View cart").click()
    page.wait_for_url("**/cart")

    page.get_by_label("Email").fill("buyer@clinic.example")
    page.get_by_label("Your name").fill("Dr Ana Ruiz")
    page.get_by_label("Shipping address").fill("Calle Mayor 1\n28013 Madrid")
    page.get_by_label("Country").select_option("ES")
    page.get_by_label("Card (Stripe Checkout)").check()
    page.get_by_role("button", name="Place order").click()

    page.wait_for_url(f"{stripe_standin.base_url}/pay/**")
    assert "Stripe test checkout" in page.title()
    page.get_by_role("button", name="Pay").click()

    page.wait_for_url(f"{live_server}/orders/**")
    status = page.locator(".order-status").inner_text()
    assert status.startswith("Paid")
    assert "MN-32G-4MM-100" in page.locator("table.order-lines").inner_text()
    assert page.get_by_role("link", name="Download the invoice (PDF)").is_visible()


def test_the_cart_shows_the_vat_of_the_country_chosen(  # type: ignore[no-untyped-def]
    page, app: Flask, live_server: str, demo: None
) -> None:
    page.goto(f"{live_server}/products/meso-needle-32g")
    row = page.locator("tr", has=page.locator("th.sku", has_text="MN-32G-4MM-100"))
    row.get_by_label("Packs of MN-32G-4MM-100").fill("3")
    row.get_by_role("button", name="Add").click()
    row.locator(".add-status").get_by_text("Added 3 packs").wait_for()
    page.goto(f"{live_server}/cart")
    label = page.locator("#vat-label")
    assert label.inner_text() == (
        "VAT 19 % (Germany), worked out at checkout from the shipping country"
    )
    german = page.locator("#vat-amount").inner_text()
    page.get_by_label("Country").select_option("HU")
    assert label.inner_text() == "VAT 27 % (Hungary)"
    assert page.locator("#vat-amount").inner_text() != german
    page.get_by_label("Country").select_option("AT")
    page.get_by_label("VAT ID (EU businesses)").fill("ATU13585627")
    assert label.inner_text() == "Reverse charge, once your VAT ID is checked"
    assert page.locator("#vat-amount").inner_text() == "$0.00"
    page.get_by_label("Country").select_option("CH")
    assert label.inner_text() == "Export: no VAT"
