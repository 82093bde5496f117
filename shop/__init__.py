"""The meso needle shop."""

from shop.app import create_app

__all__ = ["create_app"]
