"""The audit log on SQLite and PostgreSQL: canonical serialisation, the hash chain and its checkpoints,
appends inside the caller's transaction, concurrent appenders, the secret, and tampering by direct
SQL on the tables (edit, re-chain, delete, truncate, reorder, forged checkpoints), each found with
its reason."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import itertools
import json
import stat
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from neural_trader.errors import NtUserError
from neural_trader.services.audit import (
    GENESIS,
    AuditLog,
    AuditProblem,
    AuditVerification,
    audit_secret,
    canonical_json,
    record_hash,
)
from neural_trader.services.storage import Storage
from neural_trader.services.tables import metadata
from neural_trader.settings import Settings, load_settings

SECRET = b"a-test-secret-of-enough-length"
T0 = dt.datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)


def _log(storage: Storage, every: int = 100, secret: bytes = SECRET) -> AuditLog:
    return AuditLog(storage, secret, checkpoint_every=every)


def _append(log: AuditLog, n: int, *, start: int = 1) -> None:
    for i in range(start, start + n):
        with log.storage.session(write=True) as session:
            log.append(session, actor="alice", action="trade.execute", target=f"order-{i}",
                       payload={"symbol": "SPY", "qty": Decimal(i)}, result={"status": "accepted"},
                       at=T0 + dt.timedelta(seconds=i))


def _verify(log: AuditLog, batch: int = 1000) -> AuditVerification:
    with log.storage.session() as session:
        return log.verify(session, batch=batch)


def _sql(storage: Storage, statement: str, **params: Any) -> None:
    with storage.engine.begin() as connection:
        connection.execute(sa.text(statement), params)


def _table(name: str) -> sa.Table:
    """The table as the models type it: times come back (and go in) aware UTC on both backends."""
    return metadata.tables[name]


def _rows(storage: Storage, table: str = "audit_log") -> list[dict[str, Any]]:
    with storage.engine.connect() as connection:
        found = connection.execute(sa.select(_table(table)).order_by(_table(table).c.seq)).mappings()
        return [dict(r) for r in found]


def _update(storage: Storage, table: str, seq: int, /, **values: Any) -> None:
    with storage.engine.begin() as connection:
        connection.execute(sa.update(_table(table)).where(_table(table).c.seq == seq).values(values))


def _settings(tmp_path: Path) -> Settings:
    return load_settings(env={"NT_CONFIG": str(tmp_path / "absent.toml")}, data_dir=tmp_path / "data")


# -- canonical serialisation ---------------------------------------------------------------------------
def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": True}]}) == '{"a":[1,{"c":true,"d":null}],"b":1}'
    forwards = {"symbol": "SPY", "qty": Decimal("3"), "side": "buy"}
    backwards = dict(reversed(list(forwards.items())))
    assert list(forwards) != list(backwards)
    assert canonical_json(forwards) == canonical_json(backwards)
    assert canonical_json("café") == '"café"'  # UTF-8 text, not \\u escapes
    assert canonical_json(True) == "true" and canonical_json(1) == "1"  # a bool is not the int 1


@pytest.mark.parametrize(("value", "text"), [
    # One amount, one text, however it was written (the decision documented in canonical_json).
    (Decimal("1"), "1"), (Decimal("1.0"), "1"), (Decimal("1.00"), "1"), (Decimal("1E+0"), "1"),
    (Decimal("100"), "100"), (Decimal("1E+2"), "100"), (Decimal("0.10"), "0.1"), (Decimal("-2.50"), "-2.5"),
    (Decimal("-0.00"), "0"), (Decimal("0E-8"), "0"), (Decimal("1.5E-7"), "0.00000015"),
    # More digits than the default context's 28: kept exactly, never rounded.
    (Decimal("1.00000000000000000000000000000001"), "1.00000000000000000000000000000001"),
])
def test_decimals_are_strings_of_their_value(value: Decimal, text: str) -> None:
    assert canonical_json(value) == json.dumps(text)
    assert Decimal(text) == value


def test_floats_are_the_shortest_text_that_reads_back_the_same() -> None:
    for value, text in [(0.1, "0.1"), (0.1 + 0.2, "0.30000000000000004"), (1e-7, "1e-07"), (1.0, "1.0"),
                        (-2.5, "-2.5"), (123456789.125, "123456789.125")]:
        assert canonical_json(value) == text
        assert float(text) == value


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), float("nan"), float("-inf"),
                                   {"qty": Decimal("sNaN")}])
def test_non_finite_numbers_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        canonical_json(value)


def test_datetimes_are_iso_8601_utc_with_z() -> None:
    paris = dt.timezone(dt.timedelta(hours=2))
    assert canonical_json(dt.datetime(2024, 6, 1, 14, 30, 15, 123456, tzinfo=paris)) == '"2024-06-01T12:30:15.123456Z"'
    assert canonical_json(dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC)) == '"2024-06-01T12:30:00.000000Z"'
    assert canonical_json(dt.date(2024, 2, 29)) == '"2024-02-29"'
    with pytest.raises(ValueError, match="naive datetime"):
        canonical_json({"at": dt.datetime(2024, 1, 1)})


class _Side(enum.StrEnum):
    BUY = "buy"


@attrs.frozen(kw_only=True)
class _Request:
    side: _Side
    qty: Decimal
    tags: frozenset[str]


def test_enums_attrs_values_tuples_and_sets_have_one_text() -> None:
    request = _Request(side=_Side.BUY, qty=Decimal("2.50"), tags=frozenset({"b", "a", "c"}))
    assert canonical_json(request) == '{"qty":"2.5","side":"buy","tags":["a","b","c"]}'
    assert canonical_json((1, "x")) == canonical_json([1, "x"]) == '[1,"x"]'
    assert canonical_json({_Side.BUY: 1}) == '{"buy":1}'


@pytest.mark.parametrize(("value", "match"), [
    ({1: "one"}, "keys must be strings"), (object(), "cannot record a object"), (b"raw", "cannot record a bytes"),
])
def test_what_has_no_canonical_text_is_refused(value: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        canonical_json(value)


def test_record_hash_is_sha256_of_the_previous_hash_and_the_canonical_fields() -> None:
    # The text written out by hand, from the rule in the module docstring.
    body = ('{"action":"trade.execute","actor":"alice","at":"2024-06-01T12:30:15.123456Z",'
            '"payload":"{\\"qty\\":\\"1\\"}","result":"null","seq":1,"target":"o-1"}')
    expected = hashlib.sha256((GENESIS + body).encode()).hexdigest()
    assert record_hash(GENESIS, seq=1, at=T0, actor="alice", action="trade.execute", target="o-1",
                       payload='{"qty":"1"}', result="null") == expected
    assert record_hash("f" * 64, seq=1, at=T0, actor="alice", action="trade.execute", target="o-1",
                       payload='{"qty":"1"}', result="null") != expected


# -- appending and verifying -----------------------------------------------------------------------------
def test_appended_records_form_a_chain_that_verifies(storage: Storage) -> None:
    log = _log(storage)
    with storage.session(write=True) as session:
        first = log.append(session, actor="alice", action="trade.execute", target="o-1",
                           payload={"qty": Decimal("1.00")}, at=T0)
        second = log.append(session, actor="bob", action="trading.halt", payload={}, result={"halted": True})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    # Record 1 is exactly the record the hand-written test above hashes.
    assert first.payload == '{"qty":"1"}' and first.result == "null"
    assert first.hash == record_hash(GENESIS, seq=1, at=T0, actor="alice", action="trade.execute",
                                     target="o-1", payload='{"qty":"1"}', result="null")
    assert second.target is None and second.at.tzinfo == dt.UTC
    assert [r["hash"] for r in _rows(storage)] == [first.hash, second.hash]
    result = _verify(log)
    assert result == AuditVerification(ok=True, records=2, checkpoints=0, last_seq=2, last_hash=second.hash,
                                       unsigned=2)


def test_an_empty_log_verifies(storage: Storage) -> None:
    log = _log(storage)
    assert _verify(log) == AuditVerification(ok=True, records=0, checkpoints=0)
    with storage.session(write=True) as session:
        assert log.checkpoint(session) is None


def test_a_record_commits_or_rolls_back_with_the_callers_transaction(storage: Storage) -> None:
    log = _log(storage)
    with pytest.raises(RuntimeError, match="broker down"), storage.session(write=True) as session:
        log.append(session, actor="alice", action="trade.execute", payload={"n": 1})
        raise RuntimeError("broker down")
    assert _rows(storage) == []
    _append(log, 2)
    assert [r["seq"] for r in _rows(storage)] == [1, 2]  # no gap where the rolled-back one was
    assert _verify(log).ok


def test_on_sqlite_an_append_needs_a_write_session(storage: Storage) -> None:
    if storage.backend != "sqlite":
        pytest.skip("PostgreSQL appends take an advisory lock in any session")
    log = _log(storage)
    with pytest.raises(RuntimeError, match=r"session\(write=True\)"), storage.session() as session:
        log.append(session, actor="alice", action="x")


def test_the_tail_is_signed_every_n_records_and_on_demand(storage: Storage) -> None:
    log = _log(storage, every=3)
    _append(log, 7)
    checkpoints = _rows(storage, "audit_checkpoints")
    records = {r["seq"]: r for r in _rows(storage)}
    assert [c["seq"] for c in checkpoints] == [3, 6]
    for checkpoint in checkpoints:
        assert checkpoint["hash"] == records[checkpoint["seq"]]["hash"]
        message = json.dumps({"at": checkpoint["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "hash": checkpoint["hash"],
                              "key_id": checkpoint["key_id"], "seq": checkpoint["seq"]}, separators=(",", ":"))
        assert checkpoint["signature"] == hmac.new(SECRET, message.encode(), hashlib.sha256).hexdigest()
        assert checkpoint["key_id"] == log.key_id
    assert _verify(log) == AuditVerification(ok=True, records=7, checkpoints=2, last_seq=7,
                                             last_hash=records[7]["hash"], unsigned=1)
    with storage.session(write=True) as session:
        signed = log.checkpoint(session)
    with storage.session(write=True) as session:
        again = log.checkpoint(session)
    assert signed is not None and signed.seq == 7 and again == signed
    assert _verify(log).unsigned == 0 and _verify(log).checkpoints == 3


def test_verify_reads_in_batches_and_finds_the_same(storage: Storage) -> None:
    log = _log(storage, every=4)
    _append(log, 9)
    assert _verify(log, batch=2) == _verify(log, batch=1000) == _verify(log, batch=9)
    _sql(storage, "DELETE FROM audit_log WHERE seq = 5")  # the first record of a batch of 2
    assert _verify(log, batch=2).first_bad_seq == 5 == _verify(log).first_bad_seq


def test_a_secret_shorter_than_16_bytes_and_a_zero_interval_are_refused(storage: Storage) -> None:
    with pytest.raises(ValueError, match="at least 16"):
        AuditLog(storage, b"short")
    with pytest.raises(ValueError, match="checkpoint_every"):
        AuditLog(storage, SECRET, checkpoint_every=0)
    assert SECRET.decode() not in repr(_log(storage))


# -- concurrency -----------------------------------------------------------------------------------------
def test_twenty_concurrent_appenders_form_one_gapless_chain(storage: Storage) -> None:
    log = _log(storage, every=7)
    storage.ensure_schema()
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def appender(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with storage.session(write=True) as session:
                    log.append(session, actor=f"writer-{n}", action="trade.execute", target=f"{n}-{i}",
                               payload={"n": n, "i": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = _rows(storage)
    assert [r["seq"] for r in rows] == list(range(1, 101))
    assert sorted(r["target"] for r in rows) == sorted(f"{n}-{i}" for n in range(20) for i in range(5))
    assert [c["seq"] for c in _rows(storage, "audit_checkpoints")] == list(range(7, 101, 7))
    result = _verify(log)
    assert result.ok and result.records == 100 and result.checkpoints == 14 and result.unsigned == 2


# -- tampering -------------------------------------------------------------------------------------------
def test_an_edited_payload_is_found(storage: Storage) -> None:
    log = _log(storage, every=3)
    _append(log, 5)
    _sql(storage, "UPDATE audit_log SET payload = :p WHERE seq = 4", p='{"qty":"4000","symbol":"SPY"}')
    result = _verify(log)
    assert (result.ok, result.problem, result.first_bad_seq) == (False, AuditProblem.EDITED, 4)
    assert result.records == 4 and result.checkpoints == 1 and result.last_seq == 3
    assert "edited" in (result.detail or "")


@pytest.mark.parametrize("column", ["actor", "action", "target", "result", "at"])
def test_any_edited_field_is_found(storage: Storage, column: str) -> None:
    log = _log(storage)
    _append(log, 3)
    value: Any = T0 - dt.timedelta(days=1) if column == "at" else '"forged"'
    _update(storage, "audit_log", 2, **{column: value})
    result = _verify(log)
    assert (result.problem, result.first_bad_seq) == (AuditProblem.EDITED, 2)


def _rechain(storage: Storage, from_seq: int, payload: str) -> None:
    """What someone who can write the table but has no secret can do: edit a record, then recompute
    every hash after it so that the chain alone verifies again."""
    rows = _rows(storage)
    prev = GENESIS if from_seq == 1 else rows[from_seq - 2]["hash"]
    with storage.engine.begin() as connection:
        for row in rows[from_seq - 1:]:
            new_payload = payload if row["seq"] == from_seq else row["payload"]
            new_hash = record_hash(prev, seq=row["seq"], at=row["at"], actor=row["actor"], action=row["action"],
                                   target=row["target"], payload=new_payload, result=row["result"])
            connection.execute(sa.text("UPDATE audit_log SET payload = :p, prev_hash = :prev, hash = :h "
                                       "WHERE seq = :s"), {"p": new_payload, "prev": prev, "h": new_hash,
                                                           "s": row["seq"]})
            prev = new_hash


def test_an_edit_re_chained_without_the_secret_is_caught_by_the_checkpoint(storage: Storage) -> None:
    log = _log(storage, every=3)
    _append(log, 8)
    _rechain(storage, 2, '{"qty":"2000","symbol":"SPY"}')
    # Every hash and link is consistent again...
    rows = _rows(storage)
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(rows))
    # ...but record 3 is no longer the record the checkpoint signed.
    result = _verify(log)
    assert (result.ok, result.problem, result.first_bad_seq) == (False, AuditProblem.EDITED, 3)
    assert "1 to 3 were rewritten" in (result.detail or "")


def test_a_re_chained_checkpoint_without_the_secret_is_a_forged_checkpoint(storage: Storage) -> None:
    log = _log(storage, every=3)
    _append(log, 4)
    _rechain(storage, 2, '{"qty":"2000","symbol":"SPY"}')
    forged = hmac.new(b"a-guess-at-the-secret-of-the-server", b"3", hashlib.sha256).hexdigest()
    _sql(storage, "UPDATE audit_checkpoints SET hash = :h, signature = :s WHERE seq = 3",
         h=_rows(storage)[2]["hash"], s=forged)
    result = _verify(log)
    assert (result.problem, result.first_bad_seq) == (AuditProblem.FORGED_CHECKPOINT, 3)


def test_a_checkpoint_whose_time_was_changed_does_not_verify(storage: Storage) -> None:
    log = _log(storage, every=2)
    _append(log, 2)
    _update(storage, "audit_checkpoints", 2, at=T0)
    assert _verify(log).problem is AuditProblem.FORGED_CHECKPOINT


def test_a_checkpoint_under_another_secret_cannot_be_checked(storage: Storage) -> None:
    _append(_log(storage, every=2), 2)
    result = _verify(_log(storage, secret=b"another-secret-of-enough-length"))
    assert (result.problem, result.first_bad_seq) == (AuditProblem.UNKNOWN_KEY, 2)
    assert "NT_AUDIT_SECRET" in (result.detail or "")


def test_a_deleted_middle_record_is_found(storage: Storage) -> None:
    log = _log(storage)
    _append(log, 6)
    _sql(storage, "DELETE FROM audit_log WHERE seq IN (3, 4)")
    result = _verify(log)
    assert (result.problem, result.first_bad_seq) == (AuditProblem.DELETED, 3)
    assert "3 to 4 missing" in (result.detail or "")


def test_a_deleted_first_record_is_found(storage: Storage) -> None:
    log = _log(storage)
    _append(log, 3)
    _sql(storage, "DELETE FROM audit_log WHERE seq = 1")
    assert (_verify(log).problem, _verify(log).first_bad_seq) == (AuditProblem.DELETED, 1)


@pytest.mark.parametrize("keep", [4, 0])
def test_a_log_truncated_below_its_last_checkpoint_is_found(storage: Storage, keep: int) -> None:
    log = _log(storage, every=3)
    _append(log, 7)
    _sql(storage, "DELETE FROM audit_log WHERE seq > :keep", keep=keep)
    result = _verify(log)
    assert (result.ok, result.problem, result.first_bad_seq) == (False, AuditProblem.TRUNCATED, keep + 1)
    assert result.records == keep
    assert "checkpoint 6" in (result.detail or "")


def test_a_forged_checkpoint_past_the_end_is_forged_not_truncated(storage: Storage) -> None:
    log = _log(storage, every=3)
    _append(log, 4)
    with storage.engine.begin() as connection:
        connection.execute(sa.insert(_table("audit_checkpoints")).values(
            seq=9, hash="a" * 64, signature="b" * 64, at=T0, key_id=log.key_id))
    assert (_verify(log).problem, _verify(log).first_bad_seq) == (AuditProblem.FORGED_CHECKPOINT, 9)


def test_swapped_records_are_found(storage: Storage) -> None:
    log = _log(storage)
    _append(log, 5)
    _sql(storage, "UPDATE audit_log SET seq = 0 WHERE seq = 2")
    _sql(storage, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(storage, "UPDATE audit_log SET seq = 3 WHERE seq = 0")
    result = _verify(log)
    assert (result.problem, result.first_bad_seq) == (AuditProblem.REORDERED, 2)


def test_swapped_contents_are_found(storage: Storage) -> None:
    log = _log(storage)
    _append(log, 5)
    two, three = _rows(storage)[1:3]
    columns = ["at", "actor", "action", "target", "payload", "result", "prev_hash"]
    _update(storage, "audit_log", 2, hash="0" * 64)  # hash is unique: park one while the other moves
    _update(storage, "audit_log", 3, **{c: two[c] for c in [*columns, "hash"]})
    _update(storage, "audit_log", 2, **{c: three[c] for c in [*columns, "hash"]})
    result = _verify(log)
    assert (result.problem, result.first_bad_seq) == (AuditProblem.REORDERED, 2)


def test_an_inserted_record_is_found(storage: Storage) -> None:
    log = _log(storage)
    _append(log, 3)
    one, two, _ = _rows(storage)
    _sql(storage, "UPDATE audit_log SET seq = seq + 10")
    _update(storage, "audit_log", 11, seq=1)
    _update(storage, "audit_log", 12, seq=3)
    _update(storage, "audit_log", 13, seq=4)
    # A made-up record 2, well hashed and linked to record 1 (no secret needed for that).
    fake = {**two, "seq": 2, "payload": '{"qty":"999","symbol":"SPY"}'}
    fake["hash"] = record_hash(one["hash"], **{k: fake[k] for k in
                                              ("seq", "at", "actor", "action", "target", "payload", "result")})
    with storage.engine.begin() as connection:
        connection.execute(sa.insert(_table("audit_log")).values(fake))
    result = _verify(log)  # record 3 (the old 2) does not follow it
    assert (result.problem, result.first_bad_seq) == (AuditProblem.REORDERED, 3)


# -- the secret ------------------------------------------------------------------------------------------
def test_the_secret_comes_from_the_environment(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert audit_secret(settings, env={"NT_AUDIT_SECRET": "s" * 32}) == b"s" * 32
    with pytest.raises(NtUserError, match="too short"):
        audit_secret(settings, env={"NT_AUDIT_SECRET": "short"})
    assert not (tmp_path / "data").exists()


def test_without_one_a_secret_is_generated_once_in_the_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    secret = audit_secret(settings, env={})
    path = tmp_path / "data" / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert audit_secret(settings, env={}) == secret
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no temporary left behind
    path.chmod(0o644)
    with pytest.raises(NtUserError, match="readable by others"):
        audit_secret(settings, env={})


def test_processes_starting_at_once_share_one_generated_secret(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    start = threading.Barrier(8)
    found: list[bytes] = []

    def read() -> None:
        start.wait()
        found.append(audit_secret(settings, env={}))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1


def test_the_log_from_settings_uses_the_configured_secret_and_interval(tmp_path: Path) -> None:
    with Storage(f"sqlite:///{tmp_path / 'db.sqlite'}") as storage:
        env = {"NT_AUDIT_SECRET": SECRET.decode(), "NT_AUDIT_CHECKPOINT_EVERY": "2"}
        log = AuditLog.from_settings(storage, _settings(tmp_path), env=env)
        assert log.checkpoint_every == 2 and log.key_id == _log(storage).key_id
        assert SECRET.decode() not in repr(log)
        with pytest.raises(NtUserError, match="audit settings"):
            AuditLog.from_settings(storage, _settings(tmp_path), env={**env, "NT_AUDIT_CHECKPOINT_EVERY": "often"})
