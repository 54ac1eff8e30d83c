"""crmsync.web: the HTTP entry point of `crmsync serve` (webhooks, health, metrics, ops)."""
