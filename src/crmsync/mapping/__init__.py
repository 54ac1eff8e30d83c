"""crmsync.mapping."""
