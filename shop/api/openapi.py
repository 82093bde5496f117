"""The OpenAPI 3.1 description of the products API and of an order behind its link."""

from __future__ import annotations

from typing import Any

from shop.catalog.models import Kind
from shop.catalog.queries import GAUGES, MAX_LENGTH_MM, MAX_QUERY, MAX_VALUES, PINS
from shop.input_guard import MAX_PAGE

_TIER = {
    "type": "object",
    "required": ["min_quantity", "unit_amount"],
    "properties": {
        "min_quantity": {"type": "integer", "minimum": 1, "description": "From this many packs"},
        "unit_amount": {"type": "integer", "minimum": 1, "description": "Cents per pack"},
    },
}

_VARIANT = {
    "type": "object",
    "required": [
        "sku",
        "gauge",
        "length_mm",
        "pins",
        "pack_size",
        "min_order_quantity",
        "available",
        "next_expiry",
        "currency",
        "price_tiers",
    ],
    "properties": {
        "sku": {"type": "string"},
        "gauge": {"type": "integer", "minimum": 18, "maximum": 34},
        "length_mm": {"type": "number", "exclusiveMinimum": 0},
        "pins": {"type": "integer", "minimum": 1, "description": "1 for a single needle"},
        "pack_size": {"type": "integer", "minimum": 1, "description": "Needles per pack"},
        "min_order_quantity": {"type": "integer", "minimum": 1, "description": "Packs"},
        "available": {
            "type": "integer",
            "minimum": 0,
            "description": "Packs that can be sold now: in lots with at least the minimum "
            "remaining shelf life, less what is reserved",
        },
        "next_expiry": {
            "type": ["string", "null"],
            "format": "date",
            "description": "Expiry date of the lot an order placed now ships from",
        },
        "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        "price_tiers": {"type": "array", "items": {"$ref": "#/components/schemas/PriceTier"}},
    },
}

_PRODUCT = {
    "type": "object",
    "required": ["slug", "name", "kind", "url", "variants"],
    "properties": {
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": ["meso-needle", "multi-injector"]},
        "url": {"type": "string", "format": "uri"},
        "sterilisation_method": {"type": "string"},
        "shelf_life_months": {"type": "integer"},
        "single_use": {"type": "boolean"},
        "latex_free": {"type": "boolean"},
        "certifications": {"type": "array", "items": {"type": "string"}},
        "variants": {"type": "array", "items": {"$ref": "#/components/schemas/Variant"}},
    },
}

_MONEY = {"type": "integer", "minimum": 0, "description": "Cents"}

_ORDER_LINE = {
    "type": "object",
    "required": ["sku", "name", "quantity", "unit_amount", "net", "tax_amount"],
    "properties": {
        "sku": {"type": "string"},
        "name": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1, "description": "Packs"},
        "unit_amount": {**_MONEY, "description": "Net cents per pack"},
        "net": {**_MONEY, "description": "unit_amount × quantity"},
        "tax_amount": {**_MONEY, "description": "The line's VAT, rounded half up"},
    },
}

_ORDER = {
    "type": "object",
    "required": [
        "number",
        "status",
        "currency",
        "country",
        "lines",
        "subtotal",
        "shipping",
        "net",
        "tax_amount",
        "tax_rate",
        "tax_treatment",
        "tax_label",
        "buyer_vat_id",
        "total",
    ],
    "properties": {
        "number": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        "country": {"type": "string", "description": "ISO 3166 code shipped to"},
        "lines": {"type": "array", "items": {"$ref": "#/components/schemas/OrderLine"}},
        "subtotal": {**_MONEY, "description": "The lines' net amounts"},
        "shipping": {**_MONEY, "description": "Net shipping"},
        "net": {**_MONEY, "description": "subtotal + shipping"},
        "tax_amount": {
            **_MONEY,
            "description": "VAT: each line's and the shipping's, rounded half up on its own",
        },
        "tax_rate": {
            "type": "integer",
            "minimum": 0,
            "description": "Basis points: 1900 is 19 %",
        },
        "tax_treatment": {
            "type": "string",
            "enum": ["domestic", "eu_distance", "reverse_charge", "export"],
        },
        "tax_label": {"type": "string", "description": "e.g. VAT 19 % (Germany)"},
        "buyer_vat_id": {"type": "string", "description": "Empty when none was given"},
        "total": {**_MONEY, "description": "Gross: net + tax_amount"},
    },
}

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


# Text the shop refuses with 400 before anything else: a NUL byte (shop.input_guard).
NO_NUL = "^[^\\x00]*$"


def _array_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description
        + f" Repeat the parameter for several values (at most {MAX_VALUES}).",
        "schema": {"type": "array", "items": schema, "maxItems": MAX_VALUES},
        "style": "form",
        "explode": True,
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    """The description, with `server_url` (…/api/v1) as its server."""

    def error_response(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }

    kinds = sorted(k.value for k in Kind)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meso Needle Works products API",
            "version": "1.0.0",
            "description": "Read-only catalogue, prices (integer cents per pack) and "
            "availability for distributors' systems.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/products": {
                "get": {
                    "operationId": "listProducts",
                    "summary": "Active products, 50 a page",
                    "parameters": [
                        {
                            "name": "page",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_PAGE,
                                "default": 1,
                            },
                        },
                        _array_param("kind", {"type": "string", "enum": kinds}, "Product family."),
                        _array_param(
                            "gauge",
                            {"type": "integer", "minimum": GAUGES[0], "maximum": GAUGES[1]},
                            "Gauge, e.g. 32.",
                        ),
                        _array_param(
                            "length",
                            {
                                "type": "number",
                                "exclusiveMinimum": 0,
                                "maximum": MAX_LENGTH_MM,
                            },
                            "Length in mm, e.g. 4.",
                        ),
                        _array_param(
                            "pins",
                            {"type": "integer", "minimum": PINS[0], "maximum": PINS[1]},
                            "Pins, 1 for single needles.",
                        ),
                        {
                            "name": "q",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": MAX_QUERY, "pattern": NO_NUL},
                            "description": "Words of the name, description or SKU.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of products",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["products", "next"],
                                        "properties": {
                                            "products": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Product"},
                                            },
                                            "next": {"type": ["string", "null"], "format": "uri"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": error_response(
                            "A parameter breaks this description (an unknown kind, a gauge "
                            "that is not a whole number, a q over 200 characters...): the "
                            "message says which"
                        ),
                        "404": error_response("A page past the last one"),
                        "405": error_response("Only GET is answered; `Allow` lists it"),
                    },
                }
            },
            "/products/{slug}": {
                "get": {
                    "operationId": "getProduct",
                    "summary": "One active product",
                    "parameters": [
                        {
                            "name": "slug",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": NO_NUL},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The product",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Product"}
                                }
                            },
                        },
                        "400": error_response("The slug holds a NUL byte"),
                        "404": error_response("No active product has this slug"),
                        "405": error_response("Only GET is answered; `Allow` lists it"),
                    },
                }
            },
            "/orders/{token}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "An order behind its secret link: net, VAT and gross",
                    "parameters": [
                        {
                            "name": "token",
                            "in": "path",
                            "required": True,
                            "description": "The secret of the order's link in the buyer's email",
                            "schema": {"type": "string", "pattern": NO_NUL},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The order",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Order"}
                                }
                            },
                        },
                        "400": error_response("The token holds a NUL byte"),
                        "404": error_response("No order behind this link"),
                        "405": error_response("Only GET is answered; `Allow` lists it"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Order": _ORDER,
                "OrderLine": _ORDER_LINE,
                "Product": _PRODUCT,
                "Variant": _VARIANT,
                "PriceTier": _TIER,
                "Error": _ERROR,
            }
        },
    }
