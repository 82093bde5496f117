"""Orders: what was bought at which price, which lots it got, and its history."""
