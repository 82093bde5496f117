"""The buyer's cart: kept on the server, found by a token in the signed session cookie."""
