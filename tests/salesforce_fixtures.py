"""Shared helpers for the Salesforce tests: a TLS emulator on loopback and what talks to it.

`emulator_server` serves over TLS with a fresh sandbox CA (one server per test module);
`EmulatorServer.org()` swaps in a new `SalesforceState` per test. `RunningOrg` hands out settings
for each auth flow, connectors and raw simple-salesforce clients, and closes their connections.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import requests
from simple_salesforce.api import Salesforce

from crmsync.connectors.salesforce import SalesforceConnector, SalesforceSettings
from crmsync.sandbox.salesforce import SalesforceState, make_salesforce_app, sandbox_login_domain
from crmsync.sandbox.salesforce_auth import write_jwt_key_pair
from crmsync.sandbox.serve import serve_app
from crmsync.sandbox.soql_eval import FieldType
from crmsync.sandbox.tls import TlsFiles, make_tls_files
from tests.asgi_switch import Switch

ACME = "001000000000001AAA"
GLOBEX = "001000000000002AAA"
INITECH = "001000000000003AAA"


@dataclass
class RunningOrg:
    """An emulated org being served; `url` is its https instance URL."""

    state: SalesforceState
    url: str
    tls: TlsFiles
    jwt_key_file: Path
    _closers: list[Any] = field(default_factory=list)

    @property
    def domain(self) -> str:
        """The SALESFORCE_DOMAIN value whose login URLs reach this emulator."""
        return sandbox_login_domain(self.url)

    def settings(self, flow: str = "token", **changes: Any) -> SalesforceSettings:
        """Settings for one flow: token, password or jwt."""
        state = self.state
        base = SalesforceSettings(ca_bundle=str(self.tls.ca_bundle), timeout=10, domain=self.domain)
        if flow == "token":
            base = replace(base, instance_url=self.url, access_token=state.issue_token())
        elif flow == "password":
            base = replace(base, username=state.username, password=state.password, security_token=state.security_token)
        else:
            base = replace(
                base, username=state.username, consumer_key=state.consumer_key, private_key_file=str(self.jwt_key_file)
            )
        return replace(base, **changes)

    def connector(
        self, flow: str = "token", *, settings: SalesforceSettings | None = None, **options: Any
    ) -> SalesforceConnector:
        """A connector for one flow, closed when the org stops."""
        options.setdefault("retry_wait", 0.01)
        connector = SalesforceConnector(settings or self.settings(flow), **options)
        self._closers.append(connector)
        return connector

    def session(self) -> requests.Session:
        """A requests Session trusting the sandbox CA whatever REQUESTS_CA_BUNDLE says."""
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE replaces `verify` (requests#3829)
        session.verify = str(self.tls.ca_bundle)
        self._closers.append(session)
        return session

    def salesforce(self, token: str | None = None) -> Salesforce:
        """A plain simple-salesforce client on a session id (the access-token flow)."""
        return Salesforce(instance_url=self.url, session_id=token or self.state.issue_token(), session=self.session())


@dataclass
class EmulatorServer:
    """A TLS loopback server whose org is swapped per test (`org()`), with its CA and JWT key."""

    url: str
    tls: TlsFiles
    jwt_key: tuple[Path, bytes]
    _switch: Switch

    @contextmanager
    def org(self, state: SalesforceState | None = None) -> Iterator[RunningOrg]:
        """Serve `state` (a new empty org by default) until the block ends."""
        state = state or SalesforceState()
        state.jwt_public_key = self.jwt_key[1]
        self._switch.app = make_salesforce_app(state)
        org = RunningOrg(state, self.url, self.tls, self.jwt_key[0])
        try:
            yield org
        finally:
            gc.collect()  # tracebacks of expected errors hold responses, which hold their sockets open
            for closer in org._closers:
                closer.close()


@contextmanager
def emulator_server(directory: Path) -> Iterator[EmulatorServer]:
    """Make a CA, a server certificate and a JWT key in `directory`; serve over TLS until the block ends."""
    tls = make_tls_files(directory / "tls")
    switch = Switch()
    served = serve_app(switch, ssl_certfile=str(tls.certfile), ssl_keyfile=str(tls.keyfile))
    try:
        yield EmulatorServer(served.url, tls, write_jwt_key_pair(directory / "jwt"), switch)
    finally:
        served.stop()


def seed_accounts(state: SalesforceState) -> None:
    """Three accounts: Acme, Globex, Initech."""
    for account_id, name in ((ACME, "Acme"), (GLOBEX, "Globex"), (INITECH, "Initech")):
        state.add_account(account_id, name)


def seed_custom_fields(state: SalesforceState) -> None:
    """The custom Opportunity fields the sample mappings read."""
    for name, ftype in (
        ("Seats__c", FieldType.DOUBLE),
        ("SSO_Addon__c", FieldType.BOOLEAN),
        ("API_Call_Limit__c", FieldType.DOUBLE),
        ("Contract_End_Date__c", FieldType.DATE),
    ):
        state.declare_field("Opportunity", name, ftype)
