"""The catalogue: products, variants (SKUs) and their price tiers."""
