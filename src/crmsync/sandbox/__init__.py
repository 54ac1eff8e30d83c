"""crmsync.sandbox."""
