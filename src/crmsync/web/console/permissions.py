"""Who may do what in the console: the actions, the roles, and the one check (`ensure`).

Default deny: an action no role lists is refused to everyone. A viewer reads everything (pages,
the CSV export, a mapping check); an operator may also act on overrides and runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """A console user's role."""

    VIEWER = "viewer"
    OPERATOR = "operator"


class Action(StrEnum):
    """Everything the console lets someone do."""

    VIEW = "view"  # any page
    EXPORT = "export"  # the ledger as CSV
    CHECK_MAPPING = "check-mapping"  # validate and test an edited mapping file (writes nothing)
    ADOPT = "adopt"  # take an override crmsync did not create into its management
    RELEASE = "release"  # stop managing an override (nothing is deleted)
    RECONCILE = "reconcile"  # reconcile one company now
    APPROVE = "approve"  # approve changes a guard withheld


READ = frozenset({Action.VIEW, Action.EXPORT, Action.CHECK_MAPPING})
ALLOWED: dict[Role, frozenset[Action]] = {
    Role.VIEWER: READ,
    Role.OPERATOR: READ | {Action.ADOPT, Action.RELEASE, Action.RECONCILE, Action.APPROVE},
}


@dataclass(frozen=True)
class Actor:
    """The person behind a request, resolved once per request."""

    id: str  # the name runs are recorded with
    role: Role
    via: str  # token | proxy | local (a loopback `crmsync ui` with no login configured)

    def may(self, action: Action) -> bool:
        """Whether this actor's role allows `action`."""
        return action in ALLOWED.get(self.role, frozenset())


class Forbidden(Exception):
    """The actor may not do this: answered 403 with a page saying which role may."""

    def __init__(self, action: Action) -> None:
        self.action = action
        super().__init__(f"{action.value} needs the operator role")


def ensure(actor: Actor | None, action: Action) -> Actor:
    """The actor when allowed; Forbidden otherwise (and for nobody)."""
    if actor is None or not actor.may(action):
        raise Forbidden(action)
    return actor
