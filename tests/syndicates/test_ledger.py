"""The ledger finds an edited, deleted, reordered or truncated record, on SQLite and PostgreSQL, and a
re-chained rewrite through the core audit log's record of each change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from neural_trader.host import Host
from neural_trader_plugins.syndicates.chain import GENESIS, record_hash
from neural_trader_plugins.syndicates.tables import LedgerRow, SyndicateRow

from .conftest import Clock, call, founders


def _syndicate(host: Host) -> None:
    call(host, "create", syndicate_id="lg", name="Ledger", founders=founders(("ann", "admin", "100.00")))
    for i in range(3):
        call(host, "deposit", syndicate_id="lg", actor="ann", deposit_id=f"d{i}", amount="10.00")


def _sql(host: Host, *statements: str) -> None:
    with host.services.storage.engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement))


def _verify(host: Host) -> dict[str, object]:
    return call(host, "ledger_verify", syndicate_id="lg", actor="ann")  # type: ignore[no-any-return]


def test_a_sound_ledger_verifies(host: Host, fake_clock: Clock) -> None:
    _syndicate(host)
    found = _verify(host)
    assert found["ok"] and found["records"] == 6 and found["audit_records_checked"] == 4 and found["balanced"]


TAMPERING: dict[str, tuple[Callable[[], list[str]], str, int]] = {
    "edited": (lambda: ["UPDATE syndicate_ledger SET data = replace(data, '10', '99') WHERE seq = 5"], "edited", 5),
    "deleted": (lambda: ["DELETE FROM syndicate_ledger WHERE seq = 4"], "deleted", 4),
    "reordered": (lambda: ["UPDATE syndicate_ledger SET seq = 100 WHERE seq = 4",
                           "UPDATE syndicate_ledger SET seq = 4 WHERE seq = 5",
                           "UPDATE syndicate_ledger SET seq = 5 WHERE seq = 100"], "reordered", 4),
    "truncated": (lambda: ["DELETE FROM syndicate_ledger WHERE seq = 6"], "truncated", 6),
}


@pytest.mark.parametrize("how", list(TAMPERING))
def test_tampering_is_found(how: str, host: Host, fake_clock: Clock) -> None:
    _syndicate(host)
    statements, problem, seq = TAMPERING[how]
    _sql(host, *statements())
    found = _verify(host)
    assert not found["ok"] and found["problem"] == problem and found["first_bad_seq"] == seq, found


def test_a_rechained_rewrite_is_found_by_the_core_audit_log(host: Host, fake_clock: Clock) -> None:
    """Someone who edits a record, recomputes every hash after it and moves the head defeats the chain
    alone; the core audit log (HMAC-checkpointed) still names the old hashes."""
    _syndicate(host)
    with host.services.storage.session() as session:
        rows = session.exec(select(LedgerRow).where(LedgerRow.syndicate_id == "lg").order_by(col(LedgerRow.seq))).all()
        prev = GENESIS
        for row in rows:
            if row.seq == 5:
                row.data = row.data.replace("10", "99")
            row.prev_hash = prev
            row.hash = record_hash(prev, seq=row.seq, at=row.at, kind=row.kind, actor=row.actor, key=row.key,
                                   data=row.data)
            prev = row.hash
        head = session.get(SyndicateRow, "lg")
        assert head is not None
        head.head_hash = prev
        session.commit()
    found = _verify(host)
    assert not found["ok"] and found["problem"] == "edited" and found["first_bad_seq"] == 5, found
    assert "audit" in str(found["detail"])
