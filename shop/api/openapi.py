"""The OpenAPI 3.1 description of the products API."""

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
        },
        "components": {
            "schemas": {
                "Product": _PRODUCT,
                "Variant": _VARIANT,
                "PriceTier": _TIER,
                "Error": _ERROR,
            }
        },
    }
