"""API keys on SQLite and PostgreSQL: issue, list, revoke, authenticate; secrets never leak."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator

import attrs
import pytest
import sqlalchemy as sa
from sqlmodel import select

from neural_trader.errors import NtNotFound, NtUnauthorized, NtUserError
from neural_trader.ops import Identity, Scope
from neural_trader.services import keys as keys_module
from neural_trader.services.keys import KeyRecord, KeyStore
from neural_trader.services.storage import Storage
from neural_trader.services.tables import ApiKeyRow

READ = frozenset({Scope.READ})
TRADE = frozenset({Scope.READ, Scope.TRADE})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def keys(storage: Storage, clock: FakeClock) -> KeyStore:
    return KeyStore(storage, clock=clock)


@pytest.fixture
def queries(storage: Storage) -> Iterator[list[str]]:
    """The SQL statements the storage runs from now on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    storage.ensure_schema()
    sa.event.listen(storage.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(storage.engine, "before_cursor_execute", record)


def _secret(token: str) -> str:
    return token.split("_", 2)[2]  # the key id has no underscore, the secret may


def _wrong(token: str) -> str:
    """The same key with another secret."""
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def _row(storage: Storage, key_id: str) -> ApiKeyRow:
    with storage.session() as session:
        return session.exec(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id)).one()


def test_create_returns_the_record_and_a_token_shown_once(keys: KeyStore, storage: Storage) -> None:
    record, token = keys.create("  ci bot ", TRADE)
    match = re.fullmatch(r"ntk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})", token)
    assert match is not None
    assert match[1] == record.key_id
    assert record.name == "ci bot"
    assert record.scopes == TRADE
    assert record.active and record.last_used_at is None
    assert record.created_at.tzinfo is not None
    row = _row(storage, record.key_id)
    secret = match[2]
    assert row.secret_hash == "sha256$" + hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(row.model_dump())
    assert row.scopes == "read,trade"


def test_records_and_reprs_carry_no_secret_or_hash(keys: KeyStore, storage: Storage) -> None:
    record, token = keys.create("x", READ)
    secret = _secret(token)
    row = _row(storage, record.key_id)
    assert {f.name for f in attrs.fields(KeyRecord)} == {
        "key_id", "name", "scopes", "created_at", "last_used_at", "revoked_at"}
    for text in (repr(record), repr(keys.list()), repr(row), str(row), repr(keys.authenticate(token))):
        assert secret not in text
        assert row.secret_hash.split("$")[1] not in text


def test_list_shows_every_key_oldest_first(keys: KeyStore) -> None:
    first, _ = keys.create("first", READ)
    second, _ = keys.create("second", TRADE)
    keys.revoke(first.key_id)
    listed = keys.list()
    assert [k.key_id for k in listed] == [first.key_id, second.key_id]
    assert [k.active for k in listed] == [False, True]
    assert keys.get(second.key_id) == second


def test_authenticate_returns_the_identity_of_the_key(keys: KeyStore) -> None:
    record, token = keys.create("ci", TRADE)
    identity = keys.authenticate(token)
    assert identity == Identity(name="ci", scopes=TRADE, key_id=record.key_id)
    assert identity.allows(Scope.TRADE) and not identity.allows(Scope.ADMIN)
    assert keys.authenticate(f"  {token}\n") == identity


def test_a_wrong_secret_and_an_unknown_key_read_the_same(keys: KeyStore) -> None:
    record, token = keys.create("ci", READ)
    wrong_secret = _wrong(token)
    unknown_id = f"ntk_{'0' * 12}_{_secret(token)}" if record.key_id != "0" * 12 else token
    messages = []
    for bad in (wrong_secret, unknown_id):
        with pytest.raises(NtUnauthorized) as caught:
            keys.authenticate(bad)
        messages.append(caught.value.message)
        assert bad not in caught.value.message
        assert _secret(bad) not in caught.value.message
    assert messages[0] == messages[1]


@pytest.mark.parametrize("token", [
    "", "   ", "ntk_", "abc", "Bearer ntk_0123456789ab_" + "a" * 43, "ntk_0123456789ab",
    "ntk_0123456789AB_" + "a" * 43, "ntk_0123_" + "a" * 43, "ntk_0123456789ab_" + "a" * 10,
    "ntk_0123456789ab_" + "a" * 42 + "!", "xyz_0123456789ab_" + "a" * 43, "ntk_0123456789ab_" + "é" * 43,
])
def test_malformed_tokens_are_refused_without_echoing_them(keys: KeyStore, token: str) -> None:
    with pytest.raises(NtUnauthorized, match="malformed API key") as caught:
        keys.authenticate(token)
    if len(token.strip()) > 8:  # shorter ones ("ntk_") are part of the format's description
        assert token.strip() not in caught.value.message


def test_a_revoked_key_is_refused_at_once_even_when_cached(keys: KeyStore) -> None:
    record, token = keys.create("ci", READ)
    keys.authenticate(token)  # now cached
    revoked = keys.revoke(record.key_id)
    assert not revoked.active and revoked.revoked_at is not None
    with pytest.raises(NtUnauthorized, match="revoked") as caught:
        keys.authenticate(token)
    assert _secret(token) not in caught.value.message
    # Revoking twice keeps the first time.
    assert keys.revoke(record.key_id).revoked_at == revoked.revoked_at


def test_only_the_holder_of_the_secret_learns_that_a_key_was_revoked(keys: KeyStore) -> None:
    record, token = keys.create("ci", READ)
    keys.revoke(record.key_id)
    with pytest.raises(NtUnauthorized) as caught:
        keys.authenticate(_wrong(token))
    assert "revoked" not in caught.value.message


def test_revoking_or_getting_an_unknown_key_is_not_found(keys: KeyStore) -> None:
    with pytest.raises(NtNotFound):
        keys.revoke("0123456789ab")
    with pytest.raises(NtNotFound):
        keys.get("0123456789ab")


def test_another_process_revoking_takes_effect_within_the_cache_ttl(
    storage: Storage, clock: FakeClock
) -> None:
    server = KeyStore(storage, cache_ttl=5, clock=clock)
    admin = KeyStore(storage, clock=clock)  # e.g. the CLI, in another process
    record, token = admin.create("ci", READ)
    server.authenticate(token)
    admin.revoke(record.key_id)
    clock.advance(4)
    assert server.authenticate(token).key_id == record.key_id  # still within the TTL
    clock.advance(2)
    with pytest.raises(NtUnauthorized, match="revoked"):
        server.authenticate(token)


def test_cached_keys_need_no_database_round_trip(keys: KeyStore, queries: list[str], clock: FakeClock) -> None:
    _, token = keys.create("ci", READ)
    keys.authenticate(token)  # loads the key and records its use
    queries.clear()
    for _ in range(50):
        keys.authenticate(token)
        clock.advance(0.015)  # 0.75 s in all: within the default cache_ttl of 1 s
    assert queries == []
    with pytest.raises(NtUnauthorized):
        keys.authenticate(_wrong(token))
    assert queries == []  # a wrong secret for a known key is refused from the cache too


def test_last_used_is_written_at_most_once_a_minute(keys: KeyStore, storage: Storage, clock: FakeClock) -> None:
    record, token = keys.create("ci", READ)
    keys.authenticate(token)
    first = _row(storage, record.key_id).last_used_at
    assert first is not None and first >= record.created_at
    for _ in range(10):
        clock.advance(5)
        keys.authenticate(token)
    assert _row(storage, record.key_id).last_used_at == first  # 50 s later: not written again
    clock.advance(11)
    keys.authenticate(token)
    second = _row(storage, record.key_id).last_used_at
    assert second is not None and second > first
    assert keys.get(record.key_id).last_used_at == second


def test_secrets_are_compared_in_constant_time(keys: KeyStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes | str, bytes | str]] = []
    real = hmac.compare_digest

    def spy(a: bytes | str, b: bytes | str) -> bool:
        calls.append((a, b))
        return real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(keys_module.hmac, "compare_digest", spy)
    _, token = keys.create("ci", READ)
    keys.authenticate(token)
    with pytest.raises(NtUnauthorized):
        keys.authenticate(_wrong(token))
    with pytest.raises(NtUnauthorized):
        keys.authenticate(f"ntk_{'f' * 12}_{'a' * 43}")  # unknown key: compared all the same
    assert len(calls) == 3
    assert all(len(a) == len(b) for a, b in calls)


def test_create_validates_name_and_scopes(keys: KeyStore) -> None:
    with pytest.raises(NtUserError, match="name"):
        keys.create("  ", READ)
    with pytest.raises(NtUserError, match="name"):
        keys.create("x" * 201, READ)
    with pytest.raises(NtUserError, match="at least one scope"):
        keys.create("ci", frozenset())
    with pytest.raises(NtUserError, match="unknown scope 'root'"):
        keys.create("ci", frozenset({"root"}))  # type: ignore[arg-type]


def test_nothing_secret_is_logged(keys: KeyStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    record, token = keys.create("ci", READ)
    keys.authenticate(token)
    keys.revoke(record.key_id)
    with pytest.raises(NtUnauthorized):
        keys.authenticate(token)
    secret = _secret(token)
    assert record.key_id in caplog.text  # the public id is what logs name
    assert secret not in caplog.text
    assert hashlib.sha256(secret.encode()).hexdigest() not in caplog.text
