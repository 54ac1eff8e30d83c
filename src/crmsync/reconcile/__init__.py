"""crmsync.reconcile."""
