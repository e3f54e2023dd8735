"""Schemathesis hooks for ``test_schemathesis.py`` (loaded by ``SCHEMATHESIS_HOOKS``).

Our check replaces schemathesis' ``positive_data_acceptance``: a request the schema accepts may still
be refused for reasons no schema can state (``start`` after ``end``, a grid over ``max_combinations``:
our ``unprocessable`` 422), but never as a ``validation_error`` or with a 400, which would mean the
schema and the validator disagree.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.core.failures import Failure


class SchemaDisagreement(Failure):
    """A schema-valid request was refused as invalid."""

    def __init__(self, *, operation: str, status: int, kind: str, body: str) -> None:
        super().__init__(operation=operation, title="Schema and validator disagree",
                         message=f"a request the schema accepts was refused as {kind} ({status}): {body[:500]}")
        self.status, self.kind = status, kind

    @property
    def _unique_key(self) -> str:
        return f"{self.operation}:{self.kind}:{self.status}"


def refused_as_invalid(status: int, body: Any) -> str | None:
    """The error type when a positive request was refused as invalid, else None."""
    if status < 400:
        return None
    try:
        kind = str(body["error"]["type"])
    except (TypeError, KeyError):
        return None
    return kind if status == 400 or kind == "validation_error" else None


@schemathesis.check
def schema_and_validator_agree(ctx: Any, response: Any, case: Any) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    try:
        body = response.json()
    except Exception:
        return None
    kind = refused_as_invalid(response.status_code, body)
    if kind is not None:
        raise SchemaDisagreement(operation=case.operation.label, status=response.status_code, kind=kind,
                                 body=response.text)
    return None
