"""Outbound notifications to people: Slack incoming webhooks (slack.py). An edge: it speaks HTTP."""
