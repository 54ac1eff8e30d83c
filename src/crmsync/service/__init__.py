"""crmsync.service."""
