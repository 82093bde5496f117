"""Quotes for distributors: request, answer, accept, pay."""
