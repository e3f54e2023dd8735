"""Persistence of syndicate ledgers through the host's storage, and the core audit record of every
change.

A change runs in one write transaction (:meth:`SyndicateStore.change`): the syndicate's row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers),
its ledger replayed into :class:`Books`, and every new record is first applied to the books (which
refuse anything that would break them) and then written with its hash; the head moves, and the
operation's core audit record (:mod:`neural_trader.services.audit`) naming the new head commits with
it, all or nothing.

A store reads for one caller (:func:`.access.caller_of`): a syndicate that caller may not see is
"not found" here, in the data layer, whichever operation asked; ``syndicate_members`` (rewritten in
the same transaction as every record that changes members) finds the caller's syndicates for a list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import attrs
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from neural_trader.errors import NtConflict
from neural_trader.ops import Identity
from neural_trader.services.audit import canonical_json
from neural_trader_plugins.syndicates import clock
from neural_trader_plugins.syndicates.access import not_found, visible
from neural_trader_plugins.syndicates.books import Books, Event
from neural_trader_plugins.syndicates.chain import GENESIS, LedgerRecord, record_hash
from neural_trader_plugins.syndicates.tables import LedgerRow, MemberRow, SyndicateRow

__all__ = ["Change", "SyndicateStore", "fingerprint"]


def fingerprint(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON: what an idempotent repeat must match."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def _record(row: LedgerRow) -> LedgerRecord:
    return LedgerRecord(seq=row.seq, at=row.at, kind=row.kind, actor=row.actor, key=row.key, data=row.data,
                        prev_hash=row.prev_hash, hash=row.hash)


@attrs.define
class Change:
    """An open write on one syndicate: its books, and :meth:`append` for new records."""

    session: Session
    row: SyndicateRow
    books: Books
    events: list[Event]
    now: dt.datetime
    appended: list[Event] = attrs.Factory(list)

    def prior(self, key: str) -> Event | None:
        """The record written earlier under idempotency ``key``, if any."""
        seq = self.books.keys.get(key)
        return None if seq is None else self.events[seq - 1]

    def append(self, kind: str, actor: str, data: dict[str, Any], *, key: str | None = None) -> Event:
        text = canonical_json(data)
        seq, prev = self.books.last_seq + 1, self.books.last_hash
        digest = record_hash(prev, seq=seq, at=self.now, kind=kind, actor=actor, key=key, data=text)
        event = Event(seq=seq, at=self.now, kind=kind, actor=actor, key=key, data=json.loads(text), hash=digest)
        self.books.apply(event)   # raises before anything is written if the books refuse it
        self.session.add(LedgerRow(syndicate_id=self.row.id, seq=seq, at=self.now, kind=kind, actor=actor, key=key,
                                   data=text, prev_hash=prev, hash=digest))
        self.events.append(event)
        self.appended.append(event)
        return event


_MEMBER_KINDS = frozenset({"member_added", "member_updated", "member_removed"})


class SyndicateStore:
    """Reads and changes syndicates in ``storage`` for ``caller`` (``None``: every syndicate);
    ``audit`` records every change."""

    def __init__(self, storage: Any, audit: Any, caller: Identity | None = None) -> None:
        self.storage = storage
        self.audit = audit
        self.caller = caller

    # -- reading -----------------------------------------------------------------------------------
    def _load(self, session: Session, syndicate_id: str, *, lock: bool,
              check: bool = True) -> tuple[SyndicateRow, Books, list[Event]]:
        query = select(SyndicateRow).where(SyndicateRow.id == syndicate_id)
        if lock and self.storage.backend == "postgresql":
            query = query.with_for_update()
        row = session.exec(query).first()
        if row is None:
            raise not_found(syndicate_id)
        rows = session.exec(select(LedgerRow).where(LedgerRow.syndicate_id == syndicate_id)
                            .order_by(col(LedgerRow.seq))).all()
        events = [Event.of(_record(r)) for r in rows]
        books = Books.replay(syndicate_id, events)
        if check:
            self.check_visible(books)
        return row, books, events

    def check_visible(self, books: Books) -> None:
        """Raise "not found" (never "forbidden": that would say it exists) if the caller may not see it."""
        if not visible(books, self.caller):
            raise not_found(books.syndicate_id)

    def books(self, syndicate_id: str) -> Books:
        with self.storage.session() as session:
            return self._load(session, syndicate_id, lock=False)[1]

    def records(self, syndicate_id: str) -> tuple[SyndicateRow, list[LedgerRecord]]:
        """The raw records, for :func:`.chain.verify`: the caller checks visibility on what verifies
        (:meth:`check_visible`), since a broken ledger may not replay."""
        with self.storage.session() as session:
            row = session.get(SyndicateRow, syndicate_id)
            if row is None:
                raise not_found(syndicate_id)
            rows = session.exec(select(LedgerRow).where(LedgerRow.syndicate_id == syndicate_id)
                                .order_by(col(LedgerRow.seq))).all()
            return row, [_record(r) for r in rows]

    def listing(self) -> list[SyndicateRow]:
        """The syndicates the caller may see, by id (those where an active member is bound to it)."""
        query = select(SyndicateRow).order_by(col(SyndicateRow.id))
        if self.caller is not None:
            mine = (select(MemberRow.syndicate_id).where(MemberRow.identity == self.caller.name)
                    .where(col(MemberRow.active).is_(True)))
            query = query.where(col(SyndicateRow.id).in_(mine))
        with self.storage.session() as session:
            return list(session.exec(query).all())

    def audited_heads(self, syndicate_id: str) -> list[tuple[int, str]]:
        """(ledger seq, hash) that the core audit log recorded for this syndicate's changes."""
        from neural_trader.services.tables_audit import AuditRecordRow

        with self.storage.session() as session:
            rows = session.exec(select(AuditRecordRow).where(AuditRecordRow.target == syndicate_id)
                                .where(col(AuditRecordRow.action).startswith("syndicate."))
                                .order_by(col(AuditRecordRow.seq))).all()
        heads = []
        for row in rows:
            result = json.loads(row.result)
            if isinstance(result, dict) and "ledger_seq" in result:
                heads.append((int(result["ledger_seq"]), str(result["ledger_hash"])))
        return heads

    # -- writing -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def change(self, syndicate_id: str, *, operation: str, audit_actor: str, payload: Any,
               create: dict[str, Any] | None = None) -> Iterator[Change]:
        """A write on ``syndicate_id`` (made first when ``create`` gives its name and currency; the
        caller of a create checks who may see one that exists)."""
        now = clock.now()
        try:
            with self.storage.session(write=True) as session:
                if create is not None and session.get(SyndicateRow, syndicate_id) is None:
                    session.add(SyndicateRow(id=syndicate_id, name=create["name"], currency=create["currency"],
                                             created_at=now, head_seq=0, head_hash=GENESIS))
                    session.flush()
                row, books, events = self._load(session, syndicate_id, lock=True, check=create is None)
                change = Change(session=session, row=row, books=books, events=events, now=now)
                yield change
                if change.appended:
                    row.head_seq, row.head_hash = books.last_seq, books.last_hash
                    session.add(row)
                    if any(e.kind in _MEMBER_KINDS for e in change.appended):
                        _write_members(session, books)
                    self.audit.append(session, actor=audit_actor, action=operation, target=syndicate_id,
                                      payload=payload, result={"ledger_seq": books.last_seq,
                                                               "ledger_hash": books.last_hash,
                                                               "records": [e.kind for e in change.appended]},
                                      at=now)
        except IntegrityError:
            raise NtConflict(f"syndicate {syndicate_id!r} changed at the same time; try again") from None


def _write_members(session: Session, books: Books) -> None:
    """Make ``syndicate_members`` say what the books say about ``books``' members."""
    rows = {r.member_id: r for r in session.exec(select(MemberRow)
                                                 .where(MemberRow.syndicate_id == books.syndicate_id)).all()}
    for member in books.members.values():
        row = rows.get(member.member_id) or MemberRow(syndicate_id=books.syndicate_id, member_id=member.member_id,
                                                      role=member.role.value, active=member.active)
        row.identity, row.role, row.active = member.identity, member.role.value, member.active
        session.add(row)
