"""The login side of the Salesforce emulator: JWT bearer assertions and SOAP username-password.

`salesforce.py` calls these from its `/services/oauth2/token` and `/services/Soap/u/NN.N`
routes; they hold no state. `write_jwt_key_pair` makes the RSA key a test signs JWTs with.
Responses follow what simple-salesforce's `login.py` parses (JSON errors, SOAP faults).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Collection
from html import escape
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class LoginRefused(Exception):
    """A login the emulator refuses: `error` code and `description` as Salesforce words them."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def write_jwt_key_pair(directory: Path) -> tuple[Path, bytes]:
    """Write a new RSA private key (PEM) into `directory`; return its path and the public key PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "salesforce-jwt-key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public


def check_jwt_assertion(
    assertion: str, *, public_key: bytes | None, consumer_key: str, username: str, audiences: Collection[str]
) -> None:
    """Accept an RS256 assertion signed by the configured key with iss, sub and aud as expected.

    `exp` is checked against the wall clock (the client signs with it), not the state's clock.
    """
    if public_key is None:
        raise LoginRefused("invalid_client", "no certificate is configured for this connected app")
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=["RS256"],
            audience=list(audiences),
            issuer=consumer_key,
            options={"require": ["exp", "iss", "sub", "aud"]},
            leeway=30,
        )
    except jwt.InvalidAudienceError as exc:
        raise LoginRefused("invalid_grant", "audience is invalid") from exc
    except jwt.InvalidIssuerError as exc:
        raise LoginRefused("invalid_client_id", "client identifier invalid") from exc
    except jwt.ExpiredSignatureError as exc:
        raise LoginRefused("invalid_grant", "expired assertion") from exc
    except jwt.InvalidTokenError as exc:
        raise LoginRefused("invalid_grant", "invalid assertion") from exc
    if claims.get("sub") != username:
        raise LoginRefused("invalid_grant", "invalid assertion")


def parse_soap_login(body: bytes) -> tuple[str, str]:
    """The username and password (password + security token) of a SOAP `login` call."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise LoginRefused("INVALID_LOGIN", "Invalid username, password, security token; or user locked out.") from exc
    found: dict[str, str] = {}
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1]
        if local in ("username", "password"):
            found[local] = element.text or ""
    return found.get("username", ""), found.get("password", "")


def soap_login_response(*, session_id: str, server_url: str, user_id: str, org_id: str, username: str) -> str:
    """The SOAP `loginResponse` simple-salesforce reads `sessionId` and `serverUrl` from."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{escape(server_url.replace('/Soap/u/', '/Soap/m/'))}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{escape(server_url)}</serverUrl><sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{user_id}</userId><userInfo><organizationId>{org_id}</organizationId>"
        f"<userName>{escape(username)}</userName></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def soap_fault(code: str, message: str) -> str:
    """A SOAP login fault with `sf:exceptionCode` and `sf:exceptionMessage`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault>"
        "</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
