"""What the web endpoints need from the environment: webhook secrets, ids to check, the public URL.

`WebSettings` is a settings group (settings_groups.py), filled once by settings.py (the only reader of
os.environ) and handed to `Ingress`. Secrets are kept out of `repr`; an unset secret disables its
endpoint (it answers 404 and logs why), never the others.
"""

from __future__ import annotations

from crmsync.settings_groups import MAX_BODY, WINDOW, WebSettings

__all__ = ["MAX_BODY", "WINDOW", "WebSettings"]
