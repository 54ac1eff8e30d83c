"""Slack incoming webhooks (`CRMSYNC_SLACK_WEBHOOK_URL`): one POST of `{"text": …}` per message, over
httpx with a short timeout. The URL is a secret (it lets anyone post to the channel): it is never
logged or put in an error. A failed post is logged and dropped: an alert must never fail a run.
"""

from __future__ import annotations

import httpx

from crmsync.logs import get_logger
from crmsync.redaction import scrub

log = get_logger("crmsync.alerts")
TIMEOUT = httpx.Timeout(5.0, connect=3.0)


class SlackWebhook:
    """Posts plain-text messages to one incoming-webhook URL."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self._client = httpx.Client(timeout=TIMEOUT, transport=transport)
        self._url = url

    def send(self, text: str) -> bool:
        """Post one message, its secret values masked (an error text may quote one); True when Slack took it."""
        try:
            response = self._client.post(self._url, json={"text": scrub(text)})
        except httpx.HTTPError as exc:
            log.warning("alert.not_sent", error=type(exc).__name__)
            return False
        if response.status_code >= 300:
            log.warning("alert.not_sent", status=response.status_code)
            return False
        return True

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
