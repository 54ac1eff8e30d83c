"""Group commit at the webhook endpoints (web/commit.py): requests that arrive together share one
transaction, each is answered with its own count only once its hints are committed, and a failed
commit fails every request it held (each then gets its 503)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import event

from crmsync.errors import ServiceUnavailable
from crmsync.store.intake import IntakeStore, NewEvent
from crmsync.web.commit import GroupCommit
from tests.serve.databases import intake_database


def hint(n: int) -> NewEvent:
    return NewEvent("hubspot", "deal.propertyChange", str(n), f"k{n}")


def test_concurrent_requests_share_transactions_and_each_gets_its_count(tmp_path: Path) -> None:
    with intake_database("sqlite", tmp_path) as (_store, intake):
        commits: list[object] = []

        def counted(conn: object) -> None:
            commits.append(conn)

        event.listen(intake.engine, "commit", counted)
        commit = GroupCommit(intake)

        async def burst() -> list[int]:
            return await asyncio.gather(*(commit.add([hint(n % 40)]) for n in range(80)))

        counts = asyncio.run(burst())
        assert sum(counts) == 40 and sorted(set(counts)) == [0, 1]  # each key new once, then a duplicate
        assert counts[:40] == [1] * 40  # the first to name a key gets it
        assert 1 <= len(commits) < 10  # 80 requests, a few transactions (not one each)
        assert intake.depth().events == 40


class Refusing(IntakeStore):
    """An intake whose database is away (as a full disk or a dropped connection would leave it)."""

    def add_event_groups(self, groups, now=None):  # type: ignore[no-untyped-def]
        raise ServiceUnavailable("state database", "gone", setting="CRMSYNC_DATABASE_URL")


def test_a_failed_commit_fails_every_request_it_held_and_the_next_ones_are_tried_again(tmp_path: Path) -> None:
    with intake_database("sqlite", tmp_path) as (_store, intake):
        refusing = Refusing(intake.engine, intake.url)
        commit = GroupCommit(refusing)

        async def burst() -> list[object]:
            return await asyncio.gather(*(commit.add([hint(n)]) for n in range(5)), return_exceptions=True)

        outcomes = asyncio.run(burst())
        assert all(isinstance(o, ServiceUnavailable) for o in outcomes)
        commit.store = intake  # the database is back: a new request is stored
        assert asyncio.run(commit.add([hint(7)])) == 1
