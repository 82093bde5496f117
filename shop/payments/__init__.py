"""Card payments through Stripe Checkout, and Stripe's events."""
