"""Staff answer a quote knowing the stock: per line in stock, partly backordered or made to
order; the distributor reads what ships now and what follows, and when."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from shop.cart.services import variant_by_sku
from shop.extensions import db
from shop.inventory import services as inventory
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from shop.quotes import services as quotes
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant
from tests.quotes.flow import SKU, accept_data, lots, quote_link, request_quote, the_quote

LATER = date.today() + timedelta(days=60)


def answer(
    staff_client: FlaskClient, quote_id: int, supply: dict[str, str], prices=("24.00", "1.85")
):  # type: ignore[no-untyped-def]
    page = f"/admin/quotes/{quote_id}"
    data = {f"prices-{i}": price for i, price in enumerate(prices)}
    for i in range(len(prices)):  # the form posts every field of every line
        data.update({f"supply-{i}": "", f"ships_now-{i}": "", f"rest_ships_on-{i}": ""})
    data.update(
        shipping="150.00",
        valid_until=(date.today() + timedelta(days=30)).isoformat(),
        staff_note="",
        csrf_token=csrf_token(staff_client, page),
        **supply,
    )
    return staff_client.post(f"{page}/send", data=data)


def _order_lines(app: Flask) -> list[tuple[str, int, str]]:
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        return [(line.sku, line.quantity, line.name) for line in order.lines]


def test_the_answer_form_shows_each_lines_stock(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client, {"lines-0-quantity": "400"})
    html = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "300 for sale now" in html and "0 reserved" in html
    first = (date.today() + timedelta(days=700)).strftime("%d %b %Y")
    assert f"first expiry {first}" in html
    # 400 asked, 300 for sale: the form suggests partly backordered, 300 from stock.
    assert '<option value="backordered" selected>' in html
    assert 'name="ships_now-0" class="qty" type="text" inputmode="numeric" value="300"' in html
    # The free-text line has no stock and is suggested made to order.
    assert '<option value="made_to_order" selected>' in html


def test_reserved_packs_are_shown_apart(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    with stocked.app_context():
        inventory.lock_stock()
        variant = variant_by_sku(SKU)
        assert variant is not None
        inventory.reserve([(variant, 30)])
        db.session.commit()
    quote_id = request_quote(stocked, client)
    html = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "270 for sale now" in html and "30 reserved" in html


def test_in_stock_line_ships_now_and_is_reserved_whole(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    response = answer(
        staff_client,
        quote_id,
        {"supply-0": "in_stock", "supply-1": "made_to_order", "rest_ships_on-1": LATER.isoformat()},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    link = quote_link(stocked)
    page = client.get(link).get_data(as_text=True)
    assert "In stock: all 120 packs ship now" in page
    assert f"500 packs made to order, ready by {LATER:%d %B %Y}" in page
    assert client.post(f"{link}/accept", data=accept_data(client, link)).status_code == 303
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 20)}


def test_partly_backordered_line_reserves_what_is_in_stock(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client, {"lines-0-quantity": "400"})
    supply = {
        "supply-0": "backordered",
        "ships_now-0": "300",
        "rest_ships_on-0": LATER.isoformat(),
        "supply-1": "made_to_order",
        "rest_ships_on-1": LATER.isoformat(),
    }
    assert answer(staff_client, quote_id, supply).status_code == 303
    link = quote_link(stocked)
    page = client.get(link).get_data(as_text=True)
    assert f"300 packs from stock now; 100 packs backordered, ready by {LATER:%d %B %Y}" in page
    assert "Your order ships in one shipment when the packs that follow are ready" in page
    assert client.post(f"{link}/accept", data=accept_data(client, link)).status_code == 303
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 200)}
    lines = _order_lines(stocked)
    assert lines[0][:2] == (SKU, 300)
    assert lines[1][:2] == (f"{SKU}-LATER", 100)
    assert f"(backordered, ships by {LATER:%d %B %Y})" in lines[1][2]
    with stocked.app_context():
        assert the_quote().status == "accepted"


def test_made_to_order_catalogue_line_reserves_nothing(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    supply = {
        "supply-0": "made_to_order",
        "rest_ships_on-0": LATER.isoformat(),
        "supply-1": "made_to_order",
        "rest_ships_on-1": LATER.isoformat(),
    }
    assert answer(staff_client, quote_id, supply).status_code == 303
    link = quote_link(stocked)
    page = client.get(link).get_data(as_text=True)
    assert f"120 packs made to order, ready by {LATER:%d %B %Y}" in page
    assert client.post(f"{link}/accept", data=accept_data(client, link)).status_code == 303
    assert lots(stocked) == {"EARLY": (100, 0), "LATE": (200, 0)}
    assert _order_lines(stocked)[0][:2] == (f"{SKU}-LATER", 120)


def test_promises_that_cannot_stand_are_refused_next_to_their_line(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    response = answer(
        staff_client,
        quote_id,
        {"supply-0": "backordered", "ships_now-0": "120", "supply-1": "made_to_order"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Packs shipped from stock: from 1 to 119" in html
    response = answer(
        staff_client,
        quote_id,
        {"supply-0": "in_stock", "supply-1": "in_stock"},
    )
    assert response.status_code == 422
    assert "A free-text item is not in stock" in response.get_data(as_text=True)
    response = answer(
        staff_client,
        quote_id,
        {
            "supply-0": "in_stock",
            "supply-1": "backordered",
            "ships_now-1": "100",
            "rest_ships_on-1": LATER.isoformat(),
        },
    )
    assert response.status_code == 422
    assert "A free-text item is not in stock" in response.get_data(as_text=True)
    response = answer(staff_client, quote_id, {"supply-0": "in_stock", "supply-1": "made_to_order"})
    assert response.status_code == 422
    assert "Give the date the other packs ship." in response.get_data(as_text=True)
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "new" and quote.lines[0].supply is None


STAFF = "staff@meso-needles.example"


def _staff_mail(app: Flask) -> list[OutboxEmail]:
    with app.app_context():
        found = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.to == STAFF).order_by(OutboxEmail.id)
        ).all()
        db.session.expunge_all()
        return list(found)


def test_a_new_request_is_emailed_to_staff_and_waits_on_the_dashboard(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    [mail] = _staff_mail(stocked)
    with stocked.app_context():
        reference = the_quote().reference
    assert mail.subject == f"New quote request: {reference} from Dermadist GmbH"
    assert f"/admin/quotes/{quote_id}" in mail.body_text and "120 packs of" in mail.body_text
    html = staff_client.get("/admin/").get_data(as_text=True)
    assert '<a href="/admin/quotes?status=new"><strong>1</strong> quote waiting</a>' in html


def test_stock_gone_between_answer_and_accept_tells_staff_and_offers_a_revision(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    supply = {"supply-0": "in_stock", "supply-1": "made_to_order"}
    supply["rest_ships_on-1"] = LATER.isoformat()
    assert answer(staff_client, quote_id, supply).status_code == 303
    link = quote_link(stocked)
    with stocked.app_context():  # a card checkout takes most of the stock meanwhile
        inventory.lock_stock()
        variant = variant_by_sku(SKU)
        assert variant is not None
        inventory.reserve([(variant, 250)])
        db.session.commit()
    response = client.post(f"{link}/accept", data=accept_data(client, link))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Not enough stock to ship now" in page
    assert "<td>120 packs</td><td>50 packs</td>" in page
    assert "Ask us to revise the quote" in page
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 150)}  # nothing more reserved
    [_, short] = _staff_mail(stocked)
    assert short.subject.startswith("Stock short at accept: Q-")
    assert f"Line 1, {SKU}: 120 packs promised from stock, 50 packs in stock now" in (
        short.body_text
    )
    response = client.post(
        f"{link}/revision",
        data={"message": "50 now is fine", "csrf_token": csrf_token(client, link)},
    )
    assert response.status_code == 303
    page = client.get(link).get_data(as_text=True)
    assert "You asked us to revise this quote on" in page
    [_, _, asked] = _staff_mail(stocked)
    assert asked.subject.startswith("Please revise quote: Q-")
    assert "Their message: 50 now is fine" in asked.body_text
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "quoted" and quote.order_id is None
        notes = [e.note for e in quote.history]
        assert notes[-2] == f"stock short at accept: {SKU}: 120 promised, 50 in stock"
        assert notes[-1] == "revision asked: 50 now is fine"
    admin = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "revision asked: 50 now is fine" in admin
    assert "The distributor asked for a revision" in admin


def test_asking_for_a_revision_needs_csrf_and_a_quoted_quote(
    stocked: Flask, client: FlaskClient
) -> None:
    request_quote(stocked, client)
    with stocked.app_context():
        link = f"/quotes/{the_quote().token}"
    assert client.post(f"{link}/revision", data={"message": "x"}).status_code == 400
    response = client.post(f"{link}/revision", data={"csrf_token": csrf_token(client, "/quote")})
    assert response.status_code == 409
    assert "cannot be revised now" in response.get_data(as_text=True)


def test_the_stock_of_every_line_is_counted_in_two_queries_whatever_the_lines(
    stocked: Flask, client: FlaskClient
) -> None:
    with stocked.app_context():
        for n in (2, 3, 4):
            variant = make_variant(product=make_product(slug=f"meso-{n}"), sku=f"MN-EXTRA-{n}")
            make_lot(variant, quantity=10 * n, expires_in_days=900, lot_number=f"X{n}")
        db.session.commit()
    extra = {f"lines-{i}-sku": f"MN-EXTRA-{i}" for i in (2, 3, 4)}
    extra.update({f"lines-{i}-quantity": "5" for i in (2, 3, 4)})
    request_quote(stocked, client, extra)
    with stocked.app_context():
        quote = the_quote()
        _ = [line.variant for line in quote.lines]  # the page has the lines already
        statements: list[str] = []

        def record(*args: object) -> None:
            statements.append(str(args[2]))

        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            stock = quotes.line_stock(quote)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(statements) == 2
        assert sorted(s.available for s in stock.values()) == [20, 30, 40, 300]
