"""The apply path's batched ledger writes (SQLite and PostgreSQL): one commit for a batch, outcomes
before intents, a live pair refused on its own while the rest of the batch is written."""

from __future__ import annotations

from crmsync.domain import LedgerState
from crmsync.store.ledger_batch import LedgerBatch, tokens_of
from crmsync.store.repository import Store
from crmsync.store.runs import ChangeResult

VALUE = {"value_type": "boolean", "value_bool": True}


def rows(store: Store) -> dict[str, tuple[str, str | None]]:
    """Token → (status, override id) of every managed row."""
    return {o.token: (o.status.value, o.override_id) for o in store.owned()}


def test_a_batch_of_intents_is_one_commit_and_its_confirmations_another(store: Store) -> None:
    """Ten intents in one commit, their confirmations and run records in the next."""
    run_id = store.start_run("apply", "manual")
    batch = LedgerBatch(store, run_id)
    for n in range(10):
        batch.intent(f"t{n}", f"comp_{n}", "feat_a", ["hubspot"], VALUE, f"note t{n}")
    assert batch.commit() == {}
    assert batch.counts.commits == 1
    assert {s for s, _ in rows(store).values()} == {LedgerState.INTENT.value}
    for n in range(10):
        batch.confirm(f"t{n}", f"cmov_{n}")
        batch.record_change(ChangeResult("create", f"comp_{n}", "feat_a", f"cmov_{n}", True))
    assert batch.commit() == {}
    assert batch.counts.commits == 2
    assert rows(store) == {f"t{n}": ("active", f"cmov_{n}") for n in range(10)}
    assert len(store.run_changes(run_id)) == 10
    assert tokens_of(store, ["cmov_3", "cmov_7"]) == {"cmov_3": "t3", "cmov_7": "t7"}


def test_a_delete_and_the_create_of_the_same_pair_in_one_commit_land_in_that_order(store: Store) -> None:
    """The delete's outcome is written before the new intent: the pair is never live twice."""
    batch = LedgerBatch(store)
    batch.intent("old", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    batch.commit()
    batch.confirm("old", "cmov_old")
    batch.commit()
    batch.record_delete("cmov_old")
    batch.intent("new", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    assert batch.commit() == {}
    assert rows(store) == {"new": ("intent", None)}


def test_an_intent_whose_pair_is_live_is_refused_alone(store: Store) -> None:
    """Another run's live row of a pair: that intent comes back as a conflict (not to be sent); the other
    intents and the outcomes of the batch are written."""
    other = LedgerBatch(store)
    other.intent("theirs", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    other.commit()
    other.confirm("theirs", "cmov_theirs")  # live: an unconfirmed intent would be replaced instead
    other.commit()
    batch = LedgerBatch(store)
    batch.intent("mine-1", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    batch.intent("mine-2", "comp_2", "feat_a", ["hubspot"], VALUE, "n")
    batch.forget("nothing-to-forget")
    refused = batch.commit()
    assert set(refused) == {"mine-1"} and "another run" in str(refused["mine-1"])
    assert set(rows(store)) == {"theirs", "mine-2"}
    assert batch.empty


def test_an_intent_of_the_pair_is_replaced_only_once_settled(store: Store) -> None:
    """Another process's unconfirmed intent is never deleted by a new intent of its pair (its create may
    still land): the new one is refused; once the caller settled it (token looked for, not found), it is
    replaced."""
    other = LedgerBatch(store)
    other.intent("theirs", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    other.commit()
    batch = LedgerBatch(store)
    batch.intent("mine", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    assert set(batch.commit()) == {"mine"}
    assert rows(store) == {"theirs": ("intent", None)}
    batch.replaceable(["theirs"])
    batch.intent("mine", "comp_1", "feat_a", ["hubspot"], VALUE, "n")
    assert batch.commit() == {}
    assert rows(store) == {"mine": ("intent", None)}
