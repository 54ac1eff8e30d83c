"""What the web endpoints need from the environment: webhook secrets, ids to check, the public URL.

Read from `Settings.environ` (settings.py stays the only reader of os.environ). Secrets are kept
out of `repr`; an unset secret disables its endpoint (it answers 404 and logs why), never the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_BODY = 1_000_000  # bytes; larger webhook bodies are answered 413
WINDOW = 300  # seconds either side of now a signed timestamp may be (HubSpot and Schematic)


@dataclass(frozen=True)
class WebSettings:
    """Webhook verification settings; each field names its environment variable."""

    hubspot_client_secret: str | None = field(default=None, repr=False)  # HUBSPOT_CLIENT_SECRET (secret)
    hubspot_portal_id: str | None = None  # HUBSPOT_PORTAL_ID: other portals' events are ignored
    public_url: str | None = None  # CRMSYNC_PUBLIC_URL: the base URL HubSpot calls (signed URI)
    salesforce_organization_id: str | None = None  # SALESFORCE_ORGANIZATION_ID: required for Outbound Messages
    schematic_webhook_secret: str | None = field(default=None, repr=False)  # SCHEMATIC_WEBHOOK_SECRET (secret)
    ops_token: str | None = field(default=None, repr=False)  # CRMSYNC_OPS_TOKEN (secret): bearer of POST /reconcile
    max_body: int = MAX_BODY
    window: int = WINDOW

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> WebSettings:
        """The settings from an environment mapping (empty values count as unset)."""

        def get(name: str) -> str | None:
            return env.get(name) or None

        public = get("CRMSYNC_PUBLIC_URL")
        return cls(
            hubspot_client_secret=get("HUBSPOT_CLIENT_SECRET"),
            hubspot_portal_id=get("HUBSPOT_PORTAL_ID"),
            public_url=public.rstrip("/") if public else None,
            salesforce_organization_id=get("SALESFORCE_ORGANIZATION_ID"),
            schematic_webhook_secret=get("SCHEMATIC_WEBHOOK_SECRET"),
            ops_token=get("CRMSYNC_OPS_TOKEN"),
        )
