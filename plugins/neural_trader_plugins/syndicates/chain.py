"""The syndicate ledger's hash chain: each record's ``hash`` is SHA-256 of the previous record's hash
followed by the canonical JSON of its own fields (the core audit log's serialisation,
:func:`neural_trader.services.audit.canonical_json`), the first record's previous hash being 64 zeros.

:func:`verify` walks the records in ``seq`` order and names the first problem: an *edited* record (its
hash is not the hash of its contents), a *deleted* one (a gap in ``seq``), *reordered* records (a
``prev_hash`` that is not the predecessor's hash) or a *truncated* ledger (it ends before the head the
syndicate row remembers).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Iterable

import attrs

from neural_trader.services.audit import GENESIS, canonical_json

__all__ = ["GENESIS", "ChainProblem", "ChainReport", "LedgerRecord", "record_hash", "verify"]


def record_hash(prev_hash: str, *, seq: int, at: dt.datetime, kind: str, actor: str, key: str | None,
                data: str) -> str:
    """SHA-256 (hex) of ``prev_hash`` and the canonical JSON of the record (``data`` as its stored text)."""
    body = canonical_json({"seq": seq, "at": at, "kind": kind, "actor": actor, "key": key, "data": data})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


@attrs.frozen(kw_only=True)
class LedgerRecord:
    """One ledger record as stored (``data`` is canonical JSON text)."""

    seq: int
    at: dt.datetime
    kind: str
    actor: str
    key: str | None
    data: str
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return record_hash(self.prev_hash, seq=self.seq, at=self.at, kind=self.kind, actor=self.actor,
                           key=self.key, data=self.data)


class ChainProblem(enum.StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"


@attrs.frozen(kw_only=True)
class ChainReport:
    ok: bool
    records: int
    last_seq: int
    last_hash: str
    problem: ChainProblem | None = None
    first_bad_seq: int | None = None
    detail: str | None = None


def verify(records: Iterable[LedgerRecord], *, head_seq: int, head_hash: str) -> ChainReport:
    """Check ``records`` (in ``seq`` order) against each other and against the remembered head."""
    expected, prev, count = 1, GENESIS, 0

    def bad(seq: int, problem: ChainProblem, detail: str) -> ChainReport:
        return ChainReport(ok=False, records=count, last_seq=expected - 1, last_hash=prev, problem=problem,
                           first_bad_seq=seq, detail=detail)

    for record in records:
        if record.seq != expected:
            return bad(expected, ChainProblem.DELETED if record.seq > expected else ChainProblem.REORDERED,
                       f"record {expected} missing: the ledger jumps to {record.seq}")
        if record.prev_hash != prev:
            return bad(record.seq, ChainProblem.REORDERED,
                       f"record {record.seq} does not follow record {record.seq - 1}: records were moved or inserted")
        if record.computed_hash() != record.hash:
            return bad(record.seq, ChainProblem.EDITED, f"record {record.seq}'s contents do not match its hash")
        count += 1
        expected, prev = record.seq + 1, record.hash
    if expected - 1 < head_seq:
        return bad(expected, ChainProblem.TRUNCATED,
                   f"the ledger ends at record {expected - 1} but its head is record {head_seq}")
    if expected - 1 > head_seq or prev != head_hash:
        return bad(head_seq, ChainProblem.EDITED,
                   f"the ledger's last record is not the head the syndicate recorded (record {head_seq})")
    return ChainReport(ok=True, records=count, last_seq=expected - 1, last_hash=prev)
