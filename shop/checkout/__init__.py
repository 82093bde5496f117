"""From cart to order: reserve stock, then pay by card (Stripe Checkout) or bank transfer."""
