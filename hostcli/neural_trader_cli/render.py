"""Printing results: JSON for machines (``--json``), rich tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"  # people read tables; --json keeps full precision
    if isinstance(value, dict | list):
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            return ", ".join(_cell(v) for v in value)
        return json.dumps(value, default=str)
    return str(value)


def print_human(data: Any, title: str | None = None) -> None:
    """A key/value table for scalars, then one table per list of records."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    if not isinstance(data, dict):
        console.print(_cell(data))
        return
    scalars = {k: v for k, v in data.items() if not _is_records(v) and not isinstance(v, dict)}
    if scalars:
        table = Table(title=title, show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold cyan")
        table.add_column()
        for key, value in scalars.items():
            table.add_row(key, _cell(value))
        console.print(table)
    for key, value in data.items():
        if isinstance(value, dict) and value and not _is_records(value):
            console.print()
            print_human(value, title=key)
        elif _is_records(value):
            console.print()
            print_records(value, title=key, console=console)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def print_records(records: list[dict[str, Any]], title: str | None = None, console: Any = None,
                  columns: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(soft_wrap=False)
    if columns is None:
        columns = []
        for record in records:
            for key in record:
                if key not in columns:
                    columns.append(key)
    table = Table(title=title)
    for i, column in enumerate(columns):
        # Numbers and ids stay on one line (cut with an ellipsis when the terminal is narrow; --json
        # has everything); only the last column, usually prose, wraps.
        last = i == len(columns) - 1
        table.add_column(column, overflow="fold" if last else "ellipsis", no_wrap=not last,
                         min_width=min(len(column), 8))
    for record in records:
        table.add_row(*(_cell(record.get(c)) for c in columns))
    console.print(table)


def print_error(exc_type: str, message: str, details: Any, as_json: bool) -> None:
    if as_json:
        print_json({"error": {"type": exc_type, "message": message, "details": details}})
        return
    click.echo(f"error: {message}", err=True)
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and "path" in item:
                click.echo(f"  {item['path']}: {item['message']}", err=True)


class ProgressBar:
    """A rich progress bar on stderr, shown from the first ``progress()`` call."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._progress: Any = None
        self._task: Any = None

    def __call__(self, done: float, total: float | None, message: str | None) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(file=sys.stderr), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        self._progress.update(self._task, completed=done, total=total,
                              description=message or self.description)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
