"""Sign-in for buyers and staff, roles, and the buyer's own pages."""
