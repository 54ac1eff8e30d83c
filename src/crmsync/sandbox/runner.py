"""`Sandbox`: the HubSpot, Schematic and Salesforce emulators seeded and served on loopback.

Used by tests, `crmsync demo` and RevOps rehearsals: `with Sandbox() as sb:` starts the
servers on free ports (Salesforce over TLS with a CA made at start, as simple-salesforce
always speaks https), and `sb.env()` gives the variables that point crmsync at them.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from crmsync.sandbox.data import SandboxData, load_data
from crmsync.sandbox.faults import FaultInjector, SandboxFaults
from crmsync.sandbox.hubspot import HubSpotState, make_hubspot_app
from crmsync.sandbox.salesforce import SalesforceState, make_salesforce_app
from crmsync.sandbox.schematic import SchematicState, make_schematic_app
from crmsync.sandbox.serve import ServedApp, serve_app
from crmsync.sandbox.tls import TlsFiles, make_tls_files
from crmsync.sandbox.webhook_push import Subscriptions


class Sandbox:
    """The emulators' states (seeded at construction) and, once started, their servers."""

    def __init__(
        self,
        data: SandboxData | None = None,
        *,
        hubspot_port: int = 0,
        schematic_port: int = 0,
        salesforce_port: int = 0,
    ) -> None:
        self.data = data if data is not None else load_data()
        self.hubspot = HubSpotState()
        self.hubspot.load(self.data.hubspot)
        self.schematic = SchematicState()
        self.schematic.load(self.data.schematic)
        self.salesforce: SalesforceState | None = (
            SalesforceState.from_seed(dict(self.data.salesforce)) if self.data.salesforce is not None else None
        )
        self.faults = SandboxFaults()  # injected faults, per emulator (none until a rule is added)
        self._ports = (hubspot_port, schematic_port, salesforce_port)
        self._servers: list[ServedApp] = []
        self._tls_dir: Path | None = None
        self.tls: TlsFiles | None = None
        self.webhooks = Subscriptions()  # off until subscribe()

    def start(self) -> Sandbox:
        """Serve both emulators on loopback; returns self."""
        if self._servers:
            return self
        try:
            hubspot_app = FaultInjector(make_hubspot_app(self.hubspot), self.faults.hubspot)
            schematic_app = FaultInjector(make_schematic_app(self.schematic), self.faults.schematic)
            self._servers.append(serve_app(hubspot_app, port=self._ports[0]))
            self._servers.append(serve_app(schematic_app, port=self._ports[1]))
            if self.salesforce is not None:
                self._tls_dir = Path(tempfile.mkdtemp(prefix="crmsync-sandbox-tls-"))
                self.tls = make_tls_files(self._tls_dir)
                self._servers.append(
                    serve_app(
                        FaultInjector(make_salesforce_app(self.salesforce), self.faults.salesforce),
                        port=self._ports[2],
                        ssl_certfile=str(self.tls.certfile),
                        ssl_keyfile=str(self.tls.keyfile),
                    )
                )
        except BaseException:
            self.stop()
            raise
        return self

    def subscribe(self, base_url: str) -> dict[str, str]:
        """Push webhooks to crmsync at `base_url` (HubSpot, Salesforce, Schematic, like the real services);
        returns the variables crmsync needs to verify them (secrets, portal and organization ids)."""
        self.webhooks.stop()
        self.webhooks.start(self, base_url)
        return self.webhooks.env()

    def stop(self) -> None:
        """Shut the servers down, in parallel: each takes a poll interval to notice (safe twice)."""
        self.webhooks.stop()
        stoppers = [threading.Thread(target=server.stop) for server in self._servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self._servers.clear()
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir, self.tls = None, None

    def _url(self, index: int) -> str:
        if len(self._servers) <= index:
            raise RuntimeError("the sandbox is not running; call start() or use `with Sandbox() as sb:`")
        return self._servers[index].url

    @property
    def hubspot_url(self) -> str:
        """`http://127.0.0.1:PORT` of the HubSpot emulator."""
        return self._url(0)

    @property
    def schematic_url(self) -> str:
        """`http://127.0.0.1:PORT` of the Schematic emulator."""
        return self._url(1)

    @property
    def salesforce_url(self) -> str:
        """`https://127.0.0.1:PORT` of the Salesforce emulator (when the data has a salesforce section)."""
        return self._url(2)

    def env(self) -> dict[str, str]:
        """The environment variables that point crmsync at this sandbox."""
        env = {
            "HUBSPOT_API_URL": self.hubspot_url,
            "HUBSPOT_ACCESS_TOKEN": self.hubspot.access_token,
            "SCHEMATIC_API_URL": self.schematic_url,
            "SCHEMATIC_API_KEY": self.schematic.api_key,
        }
        if self.salesforce is not None and self.tls is not None:
            env |= {
                "SALESFORCE_INSTANCE_URL": self.salesforce_url,
                "SALESFORCE_ACCESS_TOKEN": self.salesforce.issue_token(),
                "SALESFORCE_CA_BUNDLE": str(self.tls.ca_bundle),
            }
        return env

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @classmethod
    def serve_forever(
        cls,
        data: SandboxData | None = None,
        hubspot_port: int = 0,
        schematic_port: int = 0,
        *,
        salesforce_port: int = 0,
        stop: threading.Event | None = None,
        on_ready: Callable[[Sandbox], None] | None = None,
    ) -> None:
        """Run a sandbox until `stop` is set or Ctrl-C; `on_ready(sandbox)` is called once serving."""
        stop = stop or threading.Event()
        with cls(
            data, hubspot_port=hubspot_port, schematic_port=schematic_port, salesforce_port=salesforce_port
        ) as sandbox:
            if on_ready is not None:
                on_ready(sandbox)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
