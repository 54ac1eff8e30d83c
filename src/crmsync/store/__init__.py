"""crmsync.store."""
