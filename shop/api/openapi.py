"""The OpenAPI 3.1 description of the products API."""

from __future__ import annotations

from typing import Any

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


def _array_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description + " Repeat the parameter for several values.",
        "schema": {"type": "array", "items": schema},
        "style": "form",
        "explode": True,
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    """The description, with `server_url` (…/api/v1) as its server."""
    error_response = {
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
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
                            "schema": {"type": "integer", "minimum": 1, "default": 1},
                        },
                        _array_param(
                            "kind",
                            {"type": "string", "enum": ["meso-needle", "multi-injector"]},
                            "Product family.",
                        ),
                        _array_param("gauge", {"type": "integer"}, "Gauge, e.g. 32."),
                        _array_param("length", {"type": "number"}, "Length in mm, e.g. 4."),
                        _array_param("pins", {"type": "integer"}, "Pins, 1 for single needles."),
                        {
                            "name": "q",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "maxLength": 200},
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
                        "400": error_response,
                        "404": error_response,
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
                            "schema": {"type": "string"},
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
                        "404": error_response,
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
