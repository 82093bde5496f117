"""The back office's front page: low stock, lots expiring soon, orders, and two SVG charts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from shop.admin.charts import Bar, axis_ticks, bar_chart, nice_ceiling
from shop.extensions import db
from shop.inventory import services as inventory
from tests.admin.test_recall import ANA, BEN, make_order
from tests.factories import make_lot, make_product, make_variant


def _section(html: str, heading_id: str) -> str:
    start = html.index(f'aria-labelledby="{heading_id}"')
    return html[start : html.index("</section>", start)]


def test_low_stock_and_expiring_lots_appear(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        product = make_product(name="Meso Needle 30G")
        low = make_variant(product=product, sku="MN-30G-4MM-100", low_stock_threshold=10)
        make_lot(low, quantity=5, lot_number="LOW-1")
        make_lot(low, quantity=50, lot_number="SHORT-1", expires_in_days=30)  # not for sale
        plenty = make_variant(product=product, sku="MN-30G-6MM-100", low_stock_threshold=10)
        make_lot(plenty, quantity=100, lot_number="PLENTY-1")
        make_lot(plenty, quantity=4, lot_number="OLD-1", expires_in_days=-3)
        empty = make_variant(product=product, sku="MN-30G-13MM-100", low_stock_threshold=10)
        gone = make_lot(empty, quantity=2, lot_number="GONE-1", expires_in_days=20)
        inventory.write_off(gone, 2, actor="tests", reason="damaged")
        make_variant(product=product, sku="MN-30G-2MM-100", low_stock_threshold=0)
        make_variant(product=product, sku="MN-30G-9MM-100", is_active=False)
        db.session.commit()

    html = staff_client.get("/admin/").get_data(as_text=True)
    low_rows = re.findall(
        r'<th scope="row" class="sku">([^<]+)</th>\s*<td>[^<]*</td>\s*'
        r'<td class="amount">(\d+)</td>\s*<td class="amount">(\d+)</td>',
        _section(html, "low-stock-heading"),
    )
    assert low_rows == [("MN-30G-13MM-100", "0", "10"), ("MN-30G-4MM-100", "5", "10")]
    assert "/admin/stock/receive?sku=MN-30G-4MM-100" in html
    assert "<strong>2</strong> variants low on stock" in html

    # Expiring soon and already expired are apart; empty and long-dated lots left out.
    expiring = _section(html, "expiring-heading")
    assert re.findall(r'<a href="/admin/stock/lots/\d+">([^<]+)</a>', expiring) == ["SHORT-1"]
    expired = _section(html, "expired-heading")
    assert re.findall(r'<a href="/admin/stock/lots/\d+">([^<]+)</a>', expired) == ["OLD-1"]
    assert "<strong>1</strong> lot expiring within 90 days" in html
    assert "<strong>1</strong> expired lot with packs on hand" in html


def test_dashboard_keeps_the_order_counts(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        variant = make_variant(sku="MN-32G-4MM-100")
        make_lot(variant, quantity=20)
        make_order(variant, 2, contact=ANA)
        make_order(variant, 1, contact=BEN, paid=False)
        db.session.commit()
    html = staff_client.get("/admin/").get_data(as_text=True)
    assert "<strong>1</strong> paid order to ship" in html
    assert "<strong>1</strong> order awaiting payment" in html
    assert "<strong>0</strong> orders needing attention" in html


def _tile_link(html: str, words: str) -> str:
    """The address the dashboard tile saying `words` leads to."""
    match = re.search(r'<li><a href="([^"]+)"><strong>[^<]*</strong> ' + re.escape(words), html)
    assert match, words
    return match.group(1).replace("&amp;", "&")


def test_every_tile_leads_to_the_list_of_what_it_counts(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        variant = make_variant(sku="MN-32G-4MM-100")
        make_lot(variant, quantity=20, lot_number="FRESH")
        make_lot(variant, quantity=4, lot_number="SOON", expires_in_days=40)
        make_lot(variant, quantity=3, lot_number="GONE", expires_in_days=-2)
        to_ship = make_order(variant, 2, contact=ANA)
        waiting = make_order(variant, 1, contact=BEN, paid=False)
        db.session.commit()
        to_ship_number, waiting_number = to_ship.number, waiting.number
    html = staff_client.get("/admin/").get_data(as_text=True)

    def listed(words: str) -> str:
        response = staff_client.get(_tile_link(html, words))
        assert response.status_code == 200, words
        return response.get_data(as_text=True)

    paid = listed("paid order to ship")
    assert to_ship_number in paid and waiting_number not in paid
    awaiting = listed("order awaiting payment")
    assert waiting_number in awaiting and to_ship_number not in awaiting
    assert "SOON" in (soon := listed("lot expiring within 90 days"))
    assert "GONE" not in soon and "FRESH" not in soon
    assert "GONE" in (gone := listed("expired lot with packs on hand"))
    assert "SOON" not in gone and "FRESH" not in gone


def test_all_expired_packs_are_written_off_at_once_with_one_reason(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        variant = make_variant(sku="MN-32G-4MM-100")
        make_lot(variant, quantity=20, lot_number="FRESH")
        make_lot(variant, quantity=3, lot_number="GONE-1", expires_in_days=-2)
        make_lot(variant, quantity=5, lot_number="GONE-2", expires_in_days=-40)
        held = make_lot(variant, quantity=6, lot_number="GONE-HELD", expires_in_days=-1)
        held.reserved = 2  # reserved before it expired: left for staff to resolve
        db.session.commit()
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', staff_client.get("/admin/").get_data(as_text=True)
    )
    assert token
    response = staff_client.post(
        "/admin/stock/write-off-expired",
        data={"note": "past date, binned", "csrf_token": token.group(1)},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "Wrote off 12 packs from 3 expired lots." in html
    with app.app_context():
        from sqlalchemy import select

        from shop.inventory.models import Lot, StockMovement

        left = {lot.lot_number: lot.quantity for lot in db.session.scalars(select(Lot))}
        reasons = set(
            db.session.scalars(
                select(StockMovement.reason).where(StockMovement.kind == "written-off")
            )
        )
    assert left == {"FRESH": 20, "GONE-1": 0, "GONE-2": 0, "GONE-HELD": 2}
    assert reasons == {"Expired: past date, binned"}
    again = staff_client.post(
        "/admin/stock/write-off-expired",
        data={"note": "", "csrf_token": token.group(1)},
        follow_redirects=True,
    )
    assert "No expired packs to write off." in again.get_data(as_text=True)


def test_charts_are_svg_with_titles_and_tables(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        variant = make_variant(sku="MN-32G-4MM-100")
        make_lot(variant, quantity=20, expires_in_days=400)
        make_lot(variant, quantity=7, expires_in_days=-5)
        make_order(variant, 2, contact=ANA)
        make_order(variant, 3, contact=BEN)
        db.session.commit()
    html = staff_client.get("/admin/").get_data(as_text=True)

    weekly = re.search(r'<svg class="chart" id="chart-paid-orders".*?</svg>', html, re.S)
    assert weekly
    svg = weekly.group(0)
    assert 'role="img"' in svg
    assert 'aria-labelledby="chart-paid-orders-title chart-paid-orders-desc"' in svg
    assert '<title id="chart-paid-orders-title">Paid orders per week, last 12 weeks</title>' in svg
    assert "2 paid orders in the last 12 weeks" in svg
    assert svg.count('<rect class="chart-bar') == 12
    this_week = date.today() - timedelta(days=date.today().weekday())
    week_name = f"Week of {this_week.day} {this_week:%B %Y}"
    assert f"<title>{week_name}: 2</title>" in svg
    assert f'<th scope="row">{week_name}</th><td class="amount">2</td>' in html

    expiry = re.search(r'<svg class="chart" id="chart-stock-expiry".*?</svg>', html, re.S)
    assert expiry
    svg = expiry.group(0)
    assert '<title id="chart-stock-expiry-title">Packs on hand by expiry month</title>' in svg
    assert (
        'class="chart-bar chart-bar-expired"' in svg and "<title>Already expired: 7</title>" in svg
    )
    month = date.today() + timedelta(days=400)
    assert f'<th scope="row">{month:%B %Y}</th><td class="amount">15</td>' in html
    assert "<script" not in html.split('<div class="charts">')[1]


@contextmanager
def _counting_queries(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _stock_and_orders(app: Flask, n: int) -> None:
    with app.app_context():
        for i in range(n):
            product = make_product()
            for j in range(3):
                variant = make_variant(product=product, low_stock_threshold=30)
                make_lot(variant, quantity=10 + j, expires_in_days=20 + 40 * i)
                make_lot(variant, quantity=5, expires_in_days=700 + 31 * i)
            make_order(variant, 1, contact=ANA)
        db.session.commit()


def test_the_dashboard_makes_a_fixed_number_of_queries(
    app: Flask, staff_client: FlaskClient
) -> None:
    _stock_and_orders(app, 1)
    with _counting_queries(app) as few:
        assert staff_client.get("/admin/").status_code == 200
    _stock_and_orders(app, 8)
    with _counting_queries(app) as many:
        html = staff_client.get("/admin/").get_data(as_text=True)
    assert "variants low on stock" in html
    assert len(many) == len(few), "\n".join(many)


def test_an_empty_shop_has_empty_charts(staff_client: FlaskClient) -> None:
    html = staff_client.get("/admin/").get_data(as_text=True)
    assert "No variant is below its low-stock threshold." in html
    assert "No paid orders in the last 12 weeks." in html
    assert "No packs on hand." in html


def test_chart_scale_and_escaping() -> None:
    assert [nice_ceiling(n) for n in (0, 1, 3, 7, 10, 11, 180, 999)] == [
        1,
        1,
        5,
        10,
        10,
        20,
        200,
        1000,
    ]
    assert axis_ticks(1) == [0, 1]
    assert axis_ticks(5) == [0, 1, 2, 3, 4, 5]
    assert axis_ticks(10) == [0, 2, 4, 6, 8, 10]
    assert axis_ticks(20) == [0, 5, 10, 15, 20]
    assert axis_ticks(5000) == [0, 1000, 2000, 3000, 4000, 5000]
    svg = str(
        bar_chart(
            [Bar("<b>", 3, name="A & B"), Bar("x", 0)],
            chart_id="c",
            title="T <1>",
            description="D",
        )
    )
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "A &amp; B: 3" in svg
    assert '<title id="c-title">T &lt;1&gt;</title>' in svg
