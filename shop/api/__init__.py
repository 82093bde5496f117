"""Read-only JSON API for distributors' systems."""
