"""What the web endpoints need from the environment (webhook secrets, ids to check, the public URL)
and from `[web]` of the TOML file (their limits on hostile input: web/limits.py).

`WebSettings` is a settings group (settings_groups.py), filled once by settings.py (the only reader of
os.environ) and handed to `Ingress`. Secrets are kept out of `repr`; an unset secret disables its
endpoint (it answers 404 and logs why), never the others.
"""

from __future__ import annotations

from crmsync.errors import ConfigError
from crmsync.settings_groups import MAX_BODY, MIN_OPS_TOKEN, WINDOW, WebSettings

__all__ = ["MAX_BODY", "MIN_OPS_TOKEN", "WINDOW", "WebSettings", "checked"]


def checked(web: WebSettings) -> WebSettings:
    """`web`, or a ConfigError (exit 2) at serve's start when CRMSYNC_OPS_TOKEN is too short to be
    unguessable; the message names the variable and its length, never the value."""
    token = web.ops_token
    if token is not None and len(token) < MIN_OPS_TOKEN:
        raise ConfigError(
            f"CRMSYNC_OPS_TOKEN is {len(token)} characters; use at least {MIN_OPS_TOKEN} random ones"
            " (e.g. `openssl rand -hex 32`), or unset it to turn POST /reconcile off"
        )
    return web
