"""Every fixture carries its provenance; constructed bodies say so and cite their documentation."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import FIXTURES, manifest


def test_every_fixture_has_its_provenance() -> None:
    files = {str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*") if p.is_file()} - {"MANIFEST.news.json"}
    assert files == set(manifest())
    for entry in manifest().values():
        assert entry["provenance"] in ("verbatim", "synthesized-from-documented-shape", "constructed-from-documentation")
        if entry["provenance"] == "constructed-from-documentation":
            assert entry["notes"].startswith("CONSTRUCTED") and "https://" in entry["source"]


def test_copied_entries_match_the_shared_manifest() -> None:
    source = Path("/work/shared/fixtures/MANIFEST.json")  # present in the team's checkout, not in CI
    shared = {e["file"]: e for e in json.loads(source.read_text())} if source.exists() else None
    for name, entry in manifest().items():
        if "copied_from" in entry:
            assert (FIXTURES / name).read_bytes()  # the copy exists and is not empty
            if shared is not None:
                assert {k: v for k, v in entry.items() if k != "copied_from"} == shared[name]
