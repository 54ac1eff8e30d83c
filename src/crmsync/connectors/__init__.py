"""crmsync.connectors."""
