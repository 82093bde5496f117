"""Lot-tracked stock: lots with expiry dates and an append-only movement ledger."""
