"""The audit log: an append-only, hash-chained record of every state-changing operation, with
checkpoints signed under a server secret, and the check that finds where it was tampered with.

Each record holds who (``actor``), what (``action`` on ``target``), when (``at``), the request
(``payload``) and the ``result``, and ``hash`` = SHA-256 of the previous record's hash followed by
the canonical JSON (:func:`canonical_json`) of its own fields, ``seq`` included; the first record's
previous hash is :data:`GENESIS`. Editing a record breaks its hash; deleting one leaves a gap in
``seq``; moving one breaks the link to its predecessor.

A hash chain alone does not stop someone who can write the table from recomputing every hash after
an edit (SHA-256 needs no key). So every ``checkpoint_every`` records (and whenever
:meth:`AuditLog.checkpoint` is called) the tail's ``(seq, hash)`` is signed with HMAC-SHA256 under
the server's audit secret (:func:`audit_secret`): a re-chained log no longer matches its checkpoints,
a log shorter than its last checkpoint was truncated, and a checkpoint made without the secret does
not verify. What a checkpoint cannot vouch for is the records after the last one: until the next
checkpoint they are protected by the chain only (:attr:`AuditVerification.unsigned`).

:meth:`AuditLog.append` writes inside the caller's transaction, so an order and its record commit
together or not at all. Concurrent appenders form one gapless chain: on PostgreSQL the append takes
a transaction-level advisory lock, on SQLite the caller's ``storage.session(write=True)`` already
holds the write lock from ``BEGIN IMMEDIATE``; the lock is held until the caller commits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlmodel import Session, select

from neural_trader.errors import NtUserError
from neural_trader.services import storage as storage_module
from neural_trader.services.tables import utcnow
from neural_trader.services.tables_audit import AuditCheckpointRow, AuditRecordRow

if TYPE_CHECKING:
    from neural_trader.services.storage import Storage
    from neural_trader.settings import Settings

__all__ = [
    "GENESIS",
    "AuditCheckpoint",
    "AuditLog",
    "AuditProblem",
    "AuditRecord",
    "AuditVerification",
    "audit_secret",
    "canonical_json",
    "record_hash",
]

#: The previous hash of the first record.
GENESIS = "0" * 64
#: Key of the PostgreSQL advisory lock that serialises appends ("NTAUDITL" as a 63-bit integer).
#: Advisory locks are per database, not per schema: two schemas of one database take turns.
_RECORDS: sa.Table = AuditRecordRow.__table__  # type: ignore[attr-defined]
# Built once: building a statement costs more than running it on SQLite.
_TAIL = sa.select(_RECORDS).order_by(_RECORDS.c.seq.desc()).limit(1)
_APPEND = sa.insert(_RECORDS)
_PG_LOCK = sa.text("SELECT pg_advisory_xact_lock(:key)")
_PG_AUDIT_LOCK = int.from_bytes(b"NTAUDITL", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: The name of the generated secret's file in the data directory.
SECRET_FILE = "audit.key"
_MIN_SECRET_CHARS = 16


# -- canonical serialisation -------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    """``value`` as the one JSON text the audit log hashes: keys sorted, no whitespace, UTF-8.

    * :class:`~decimal.Decimal` is a string of its *value*, normalised: ``Decimal("1.0")``,
      ``Decimal("1.00")`` and ``Decimal("1E+0")`` are all ``"1"`` (a record states an amount, not how
      it was typed; the text never depends on the context's precision). NaN and infinities are refused.
    * ``float`` is the shortest text that reads back as the same float (Python's ``repr``, the same on
      every platform); NaN and infinities are refused. ``1.0`` stays ``1.0``, not the int ``1``.
    * aware ``datetime`` is ISO-8601 UTC with microseconds and ``Z``
      (``2024-01-02T03:04:05.000000Z``); a naive one is refused. ``date`` is ``YYYY-MM-DD``.
    * enums are their value; attrs instances are a mapping of their fields; tuples are lists; sets
      are lists sorted by their elements' canonical text; UUIDs are strings.
    * mapping keys must be strings (``{1: ...}`` and ``{"1": ...}`` would otherwise be one text).

    Anything else is a ``TypeError``: the serialisation must not fall back on ``str()``, whose text
    may change between versions.
    """
    return _CANONICAL.encode(_plain(value))


#: One encoder for every record (``json.dumps`` with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _decimal_text(value: decimal.Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot record the non-finite Decimal {value}")
    # format "f" writes every digit exactly (no context rounding, no exponent).
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _plain(value: Any) -> Any:
    # The common exact types first (this runs for every field of every record).
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is decimal.Decimal:
        return _decimal_text(value)
    if kind is dict and all(type(key) is str for key in value):
        return {key: _plain(item) for key, item in value.items()}
    # bool before int (a bool is an int), enums before their base types (a StrEnum is a str).
    if isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot record the non-finite float {value}")
        return value
    if isinstance(value, decimal.Decimal):
        return _decimal_text(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: record timezone-aware UTC datetimes")
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if not isinstance(key, str):
                raise TypeError(f"audit payload keys must be strings, not {type(key).__name__} ({key!r})")
            out[str(key)] = _plain(item)
        return out
    if attrs.has(type(value)):
        return {field.name: _plain(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return [json.loads(text) for text in sorted(canonical_json(item) for item in value)]
    raise TypeError(f"cannot record a {type(value).__name__} in the audit log: {value!r}")


def record_hash(prev_hash: str, *, seq: int, at: dt.datetime, actor: str, action: str, target: str | None,
                payload: str, result: str) -> str:
    """SHA-256 (hex) of ``prev_hash`` followed by the canonical JSON of the record's fields
    (``payload`` and ``result`` are their canonical JSON texts, as stored)."""
    fields = {"seq": seq, "at": at, "actor": actor, "action": action, "target": target, "payload": payload,
              "result": result}
    if (type(seq) is int and type(at) is dt.datetime and type(actor) is str and type(action) is str
            and (target is None or type(target) is str) and type(payload) is str and type(result) is str):
        # The usual record, already plain but for its time: what canonical_json would write, without
        # walking it (this runs for every record appended and every record verified).
        fields["at"] = _plain(at)
        body = _CANONICAL.encode(fields)
    else:
        body = canonical_json(fields)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


# -- values ------------------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class AuditRecord:
    """One record of the log as stored (``payload`` and ``result`` are canonical JSON texts)."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    payload: str
    result: str
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: AuditRecordRow | sa.Row[Any]) -> AuditRecord:
        return cls(seq=row.seq, at=row.at, actor=row.actor, action=row.action, target=row.target,
                   payload=row.payload, result=row.result, prev_hash=row.prev_hash, hash=row.hash)

    def computed_hash(self) -> str:
        """What :attr:`hash` must be, recomputed from the other fields."""
        return record_hash(self.prev_hash, seq=self.seq, at=self.at, actor=self.actor, action=self.action,
                           target=self.target, payload=self.payload, result=self.result)


@attrs.frozen(kw_only=True)
class AuditCheckpoint:
    """A signed statement that record ``seq`` of the log had hash ``hash``."""

    seq: int
    hash: str
    signature: str
    at: dt.datetime
    key_id: str

    @classmethod
    def from_row(cls, row: AuditCheckpointRow) -> AuditCheckpoint:
        return cls(seq=row.seq, hash=row.hash, signature=row.signature, at=row.at, key_id=row.key_id)


class AuditProblem(enum.StrEnum):
    """Why a log does not verify."""

    #: A record's hash is not the hash of its contents, or a (re-chained) record no longer matches
    #: the checkpoint that signed it.
    EDITED = "edited"
    #: ``seq`` has a gap: a record was deleted.
    DELETED = "deleted"
    #: A record's ``prev_hash`` is not its predecessor's hash: records were moved or one was inserted.
    REORDERED = "reordered"
    #: The log ends before a signed checkpoint's record.
    TRUNCATED = "truncated"
    #: A checkpoint's signature does not verify under this server's secret.
    FORGED_CHECKPOINT = "forged_checkpoint"
    #: A checkpoint was signed under another secret (rotated or lost): it cannot be checked.
    UNKNOWN_KEY = "unknown_key"


@attrs.frozen(kw_only=True)
class AuditVerification:
    """What :meth:`AuditLog.verify` found; ``ok`` is false from the first problem on."""

    ok: bool
    #: Records read before the check stopped (all of them when ``ok``).
    records: int
    #: Checkpoints whose signature and hash were checked.
    checkpoints: int
    #: The last record checked, and its hash (``None`` for an empty log).
    last_seq: int | None = None
    last_hash: str | None = None
    #: Records after the last checkpoint: protected by the chain only, not yet by a signature.
    unsigned: int = 0
    first_bad_seq: int | None = None
    problem: AuditProblem | None = None
    detail: str | None = None


# -- the secret --------------------------------------------------------------------------------------
def audit_secret(settings: Settings, env: Mapping[str, str] | None = None) -> bytes:
    """The server's audit secret: ``NT_AUDIT_SECRET`` (or ``[plugins.audit] secret``), else the one in
    ``data_dir/audit.key``, generated (32 random bytes, hex, mode 0600) the first time.

    Every replica writing one shared log must be given the same ``NT_AUDIT_SECRET``. The secret is
    never logged or returned by an operation; what identifies it is :meth:`AuditLog.key_id`.
    """
    from neural_trader.settings import plugin_env

    configured = plugin_env(settings, "audit", "secret", env)
    if configured is not None:
        if len(configured) < _MIN_SECRET_CHARS:
            raise NtUserError(f"NT_AUDIT_SECRET is too short: use at least {_MIN_SECRET_CHARS} characters "
                              "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
        return configured.encode("utf-8")
    return _secret_file(Path(settings.data_dir) / SECRET_FILE)


def _secret_file(path: Path) -> bytes:
    if not path.exists():
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
        # Written whole under a private name, then linked into place: two processes starting at once
        # both end up reading the one file that won, never a half-written one.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(secrets.token_hex(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        raise NtUserError(f"the audit secret {path} is readable by others: `chmod 600 {path}`")
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < _MIN_SECRET_CHARS:
        raise NtUserError(f"the audit secret {path} is empty or too short: restore it from a backup "
                          "(checkpoints signed with the old one will not verify without it)")
    return secret.encode("ascii")


# -- the log -----------------------------------------------------------------------------------------
class AuditLog:
    """Appends to, checkpoints and verifies the audit log of ``storage`` under ``secret``.

    :param checkpoint_every: sign the tail automatically when an append's ``seq`` is a multiple of it.
    """

    def __init__(self, storage: Storage, secret: bytes, *, checkpoint_every: int = 100) -> None:
        if len(secret) < _MIN_SECRET_CHARS:
            raise ValueError(f"the audit secret must be at least {_MIN_SECRET_CHARS} bytes")
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, not {checkpoint_every}")
        self.storage = storage
        self._secret = secret
        self.checkpoint_every = checkpoint_every
        #: Identifies the secret in checkpoints without revealing it.
        self.key_id = hmac.new(secret, b"neural-trader audit key id", hashlib.sha256).hexdigest()[:16]

    @classmethod
    def from_settings(cls, storage: Storage, settings: Settings, env: Mapping[str, str] | None = None) -> AuditLog:
        """The log with the configured secret (:func:`audit_secret`) and ``NT_AUDIT_CHECKPOINT_EVERY``
        (or ``[plugins.audit] checkpoint_every``; default 100)."""
        from neural_trader.settings import plugin_env

        every = plugin_env(settings, "audit", "checkpoint_every", env)
        try:
            checkpoint_every = 100 if every is None else int(every)
            return cls(storage, audit_secret(settings, env), checkpoint_every=checkpoint_every)
        except ValueError as exc:
            raise NtUserError(f"audit settings: {exc}") from None

    def __repr__(self) -> str:
        return f"AuditLog({self.storage!r}, key_id={self.key_id!r}, checkpoint_every={self.checkpoint_every})"

    # -- writing -----------------------------------------------------------------------------------
    def _lock_tail(self, session: Session) -> sa.Row[Any] | None:
        """Take the append lock for the rest of the caller's transaction; the tail record, if any."""
        connection = session.connection()
        if self.storage.backend == "postgresql":
            connection.execute(_PG_LOCK, {"key": _PG_AUDIT_LOCK})
        elif self.storage.backend == "sqlite":
            # Reading the tail and then appending must not let another writer in between: only a
            # transaction begun IMMEDIATE holds the write lock before its first read.
            options = connection.get_execution_options()
            if options.get(storage_module._SQLITE_BEGIN) != "IMMEDIATE":
                raise RuntimeError("audit records are appended in a storage.session(write=True)")
        return connection.execute(_TAIL).first()

    def append(self, session: Session, *, actor: str, action: str, target: str | None = None,
               payload: Any = None, result: Any = None, at: dt.datetime | None = None) -> AuditRecord:
        """Append one record inside ``session``'s transaction (it commits or rolls back with it).

        ``payload`` and ``result`` are stored as :func:`canonical_json`. Signs a checkpoint when the
        new ``seq`` is a multiple of :attr:`checkpoint_every`.
        """
        entry = {"actor": actor, "action": action, "target": target, "payload": payload, "result": result, "at": at}
        return self.append_many(session, [entry])[0]

    def append_many(self, session: Session, entries: Sequence[Mapping[str, Any]]) -> list[AuditRecord]:
        """Append several records, in order, inside ``session``'s transaction: one tail lock and one
        insert for all of them (the order manager's group commit). Each entry holds :meth:`append`'s
        keyword arguments."""
        if not entries:
            return []
        records: list[AuditRecord] = []
        rows: list[dict[str, Any]] = []
        tail = self._lock_tail(session)
        seq, prev_hash = (0, GENESIS) if tail is None else (tail.seq, tail.hash)
        for entry in entries:
            at = entry.get("at") or utcnow()
            if at.tzinfo is None:
                raise ValueError(f"naive datetime {at!r}: record timezone-aware UTC datetimes")
            seq += 1
            fields = {"seq": seq, "at": at.astimezone(dt.UTC), "actor": entry["actor"], "action": entry["action"],
                      "target": entry.get("target"), "payload": canonical_json(entry.get("payload")),
                      "result": canonical_json(entry.get("result"))}
            digest = record_hash(prev_hash, **fields)
            rows.append({**fields, "prev_hash": prev_hash, "hash": digest})
            records.append(AuditRecord(**rows[-1]))
            prev_hash = digest
        session.connection().execute(_APPEND, rows)
        for record in records:
            if record.seq % self.checkpoint_every == 0:
                self._sign(session, record)
        return records

    def checkpoint(self, session: Session) -> AuditCheckpoint | None:
        """Sign the current tail (inside ``session``'s transaction); the checkpoint, or ``None`` for
        an empty log. A tail already signed keeps its checkpoint."""
        tail = self._lock_tail(session)
        if tail is None:
            return None
        existing = session.get(AuditCheckpointRow, tail.seq)
        if existing is not None:
            return AuditCheckpoint.from_row(existing)
        return self._sign(session, AuditRecord.from_row(tail))

    def _signature(self, *, seq: int, hash: str, at: dt.datetime, key_id: str) -> str:
        message = canonical_json({"seq": seq, "hash": hash, "at": at, "key_id": key_id})
        return hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def _sign(self, session: Session, record: AuditRecord) -> AuditCheckpoint:
        at = utcnow()
        checkpoint = AuditCheckpoint(seq=record.seq, hash=record.hash, at=at, key_id=self.key_id,
                                     signature=self._signature(seq=record.seq, hash=record.hash, at=at,
                                                               key_id=self.key_id))
        session.add(AuditCheckpointRow(**attrs.asdict(checkpoint)))
        session.flush()
        return checkpoint

    # -- reading -----------------------------------------------------------------------------------
    def records(self, session: Session, *, after: int = 0, batch: int = 1000) -> Iterator[AuditRecord]:
        """Every record after ``seq`` ``after``, in order, read ``batch`` at a time."""
        # Plain rows, not ORM objects: a million records must not pile up in the caller's session.
        table: sa.Table = AuditRecordRow.__table__  # type: ignore[attr-defined]
        while True:
            rows = session.execute(sa.select(table).where(table.c.seq > after)
                                   .order_by(table.c.seq).limit(batch)).mappings().all()
            for row in rows:
                yield AuditRecord(**row)
            if len(rows) < batch:
                return
            after = rows[-1]["seq"]

    def verify(self, session: Session, *, batch: int = 1000) -> AuditVerification:
        """Check the whole log: every hash, every link, no gap in ``seq``, every checkpoint's signature
        and hash, and that the log reaches its last checkpoint. Reads ``batch`` records at a time.

        Stops at the first problem, the lowest ``seq`` it concerns.
        """
        checkpoints = {row.seq: AuditCheckpoint.from_row(row)
                       for row in session.exec(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq))}  # type: ignore[arg-type]
        n_records = n_checkpoints = 0
        expected, prev_hash, signed_seq = 1, GENESIS, 0
        last: AuditRecord | None = None

        def bad(seq: int, problem: AuditProblem, detail: str) -> AuditVerification:
            return AuditVerification(ok=False, records=n_records, checkpoints=n_checkpoints, first_bad_seq=seq,
                                     problem=problem, detail=detail,
                                     last_seq=None if last is None else last.seq,
                                     last_hash=None if last is None else last.hash)

        for record in self.records(session, batch=batch):
            n_records += 1
            if record.seq != expected:
                missing = f"{expected}" if record.seq == expected + 1 else f"{expected} to {record.seq - 1}"
                return bad(expected, AuditProblem.DELETED, f"record {missing} missing: the log jumps to {record.seq}")
            if record.prev_hash != prev_hash:
                return bad(record.seq, AuditProblem.REORDERED,
                           f"record {record.seq} does not follow record {record.seq - 1} (its prev_hash is "
                           "another record's hash): records were moved or inserted")
            if record.computed_hash() != record.hash:
                return bad(record.seq, AuditProblem.EDITED,
                           f"record {record.seq}'s contents do not match its hash: it was edited")
            checkpoint = checkpoints.get(record.seq)
            if checkpoint is not None:
                problem = self._check_signature(checkpoint)
                if problem is not None:
                    return bad(record.seq, *problem)
                n_checkpoints += 1
                if checkpoint.hash != record.hash:
                    return bad(record.seq, AuditProblem.EDITED,
                               f"record {record.seq} is not the record checkpoint {record.seq} signed: records "
                               f"{signed_seq + 1} to {record.seq} were rewritten and re-chained")
                signed_seq = record.seq
            expected, prev_hash, last = record.seq + 1, record.hash, record
        beyond = [c for seq, c in checkpoints.items() if seq >= expected]
        if beyond:
            for checkpoint in beyond:
                problem = self._check_signature(checkpoint)
                if problem is not None:
                    return bad(checkpoint.seq, *problem)
            return bad(expected, AuditProblem.TRUNCATED,
                       f"the log ends at record {expected - 1} but checkpoint {max(checkpoints)} signed record "
                       f"{max(checkpoints)}: records {expected} to {max(checkpoints)} at least were deleted")
        return AuditVerification(ok=True, records=n_records, checkpoints=n_checkpoints, unsigned=expected - 1 - signed_seq,
                                 last_seq=None if last is None else last.seq,
                                 last_hash=None if last is None else last.hash)

    def _check_signature(self, checkpoint: AuditCheckpoint) -> tuple[AuditProblem, str] | None:
        if checkpoint.key_id != self.key_id:
            return (AuditProblem.UNKNOWN_KEY,
                    f"checkpoint {checkpoint.seq} was signed under key {checkpoint.key_id}, not this server's "
                    f"{self.key_id}: set NT_AUDIT_SECRET to the secret it was signed with")
        expected = self._signature(seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at,
                                   key_id=checkpoint.key_id)
        if not hmac.compare_digest(expected, checkpoint.signature):
            return (AuditProblem.FORGED_CHECKPOINT,
                    f"checkpoint {checkpoint.seq}'s signature does not verify: it was not made with the secret")
        return None
