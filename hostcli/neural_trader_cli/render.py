"""Printing results: JSON for machines (``--json``, full precision), text for people.

**Width.** A terminal's own width; ``$COLUMNS`` when it is set (``COLUMNS=100 nt ... | less``);
otherwise (a pipe, a file) no limit, so nothing is ever cropped.

**Layout.** Scalars print as ``key  value`` lines, prose wrapping under its value. A list of records
is a table when it fits the width; text cells wrap at spaces, while numbers and ids (any cell without
a space) are never cut. A table that cannot fit even so prints as one key/value block per record.

**Numbers.** Integers print whole. A float's unit comes from its field's schema ``format`` (see
:data:`FORMATS`) or else from its field name (see :data:`NAME_UNITS`), or is inherited from the
enclosing field (``total_return: {p5, p50, ...}`` are all returns): fractions print as percentages,
money with thousands separators and cents, anything else with four decimals (four significant
digits below 1), never in exponent notation between 1e-6 and 1e15. Schema date-times print to the
second, and as a day when they are midnight UTC (daily bars).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import click

FRACTION, MONEY, BPS = "fraction", "money", "bps"

#: Schema ``format`` values that set a number's unit (``attrs.field(metadata={"format": "fraction"})``).
#: ``plain`` is a number that is its own unit (a percentile 0-100, a score): it inherits nothing.
FORMATS: dict[str, str | None] = {FRACTION: FRACTION, "percent": FRACTION, MONEY: MONEY, BPS: BPS, "plain": None}

#: Units of fields that declare none, by the field name's last word (``trade_return``, ``atr_pct``)
#: or its ending (``trade_win_rate``). Fractions are shares of one: 0.12 prints as 12.00%.
NAME_UNITS: tuple[tuple[str, frozenset[str], tuple[str, ...]], ...] = (
    (FRACTION, frozenset({"return", "returns", "drawdown", "cagr", "exposure", "pct", "volatility"}),
     ("win_rate", "probability_of_loss")),
    (MONEY, frozenset({"equity", "cash", "pnl", "fees"}), ()),
    (BPS, frozenset({"bps"}), ()),
)

IMAGE_PLACEHOLDER = "<image: use --plot FILE>"
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$")
_GAP = 2  # spaces between a key and its value


# -- values --------------------------------------------------------------------------------------


def unit_of(key: str | None, schema: dict[str, Any] | None, inherited: str | None = None) -> str | None:
    """The unit of field ``key``: its schema's ``x-unit`` (``param(unit=...)``) or ``format``, else its
    name's, else ``inherited``."""
    main = _main(schema)
    fmt = (main or {}).get("x-unit") or _format(schema)
    if fmt in FORMATS:
        return FORMATS[fmt]
    if key:
        name = key.lower()
        last = name.rsplit("_", 1)[-1]
        for unit, words, endings in NAME_UNITS:
            if last in words or name.endswith(endings):
                return unit
    return inherited


def format_number(value: float | int, unit: str | None = None) -> str:
    """A number as people read it; ``unit`` is one of :data:`FRACTION`, :data:`MONEY`, :data:`BPS`."""
    if isinstance(value, int) and unit is None:
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if unit == FRACTION:
        return f"{x * 100:,.2f}%"
    if unit == MONEY and (x == 0 or abs(x) >= 0.01):
        return f"{x:,.2f}"
    text = _plain(x, decimals=4)
    return text + " bps" if unit == BPS else text


def _plain(x: float, decimals: int) -> str:
    a = abs(x)
    if a != 0 and (a < 1e-6 or a >= 1e15):
        return f"{x:.4g}"
    if a >= 1000:
        return f"{x:,.2f}"
    if 0 < a < 1:  # four significant digits, however small
        decimals = max(decimals, 3 - math.floor(math.log10(a)))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: Any, unit: str | None = None, schema: dict[str, Any] | None = None) -> str:
    """One cell's text (a nested list or dict is JSON)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return format_number(value, unit)
    if isinstance(value, str):
        if _format(schema) == "date-time" and (stamp := _TIMESTAMP.match(value)):
            # To the second; a bar at midnight UTC (a daily bar) is its day.
            day, time = stamp.group(1, 2)
            return day if time == "00:00:00" else f"{day}T{time}Z"
        return value
    if _is_image(value):
        return IMAGE_PLACEHOLDER
    if isinstance(value, dict):  # a record's nested object, its values formatted as everywhere
        parts = []
        for k, v in value.items():
            child = _child(schema, str(k))
            parts.append(f"{k}: {format_value(v, unit_of(str(k), child, unit), child)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        items = _items(schema)
        nested = any(isinstance(v, dict | list) for v in value)
        inner = unit_of(None, items, unit)
        return ("; " if nested else ", ").join(format_value(v, inner, items) for v in value) or "(none)"
    return str(value)


def _format(schema: dict[str, Any] | None) -> str | None:
    schema = _main(schema)
    return schema.get("format") if schema else None


def _main(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The non-null branch of an ``anyOf`` (an Optional field), else the schema itself."""
    if schema and "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return {**schema, **branches[0]}
    return schema


def _properties(schema: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(named properties, schema of any other key) of an object schema."""
    schema = _main(schema) or {}
    extra = schema.get("additionalProperties")
    return schema.get("properties", {}), extra if isinstance(extra, dict) else None


def _items(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    items = (_main(schema) or {}).get("items")
    return items if isinstance(items, dict) else None


def _is_image(value: Any) -> bool:
    return isinstance(value, dict) and {"media_type", "data"} <= set(value)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_section(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and not _is_image(value)


def _child(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    named, extra = _properties(schema)
    return named.get(key, extra)


def shown_values(data: Any, schema: dict[str, Any] | None = None, key: str | None = None,
                 unit: str | None = None) -> Iterator[tuple[Any, str]]:
    """Each scalar of ``data`` with the text :func:`print_human` shows for it (tests check these)."""
    unit = unit_of(key, schema, unit)
    if _is_image(data):
        return
    if isinstance(data, dict):
        for k, v in data.items():
            yield from shown_values(v, _child(schema, str(k)), str(k), unit)
    elif isinstance(data, list):
        items = _items(schema)
        for v in data:
            yield from shown_values(v, items, None, unit)
    else:
        yield data, format_value(data, unit, schema)


# -- layout --------------------------------------------------------------------------------------


def output_width() -> int | None:
    """The width to fit: the terminal's, else ``$COLUMNS``, else ``None`` (no limit)."""
    import shutil

    if sys.stdout.isatty():
        return max(shutil.get_terminal_size().columns, 20)
    columns = os.environ.get("COLUMNS", "")
    return max(int(columns), 20) if columns.isdigit() and int(columns) > 0 else None


def _print(blocks: Iterator[Any], width: int | None) -> None:
    from rich.console import Console

    # No width limit: wide enough for any table (rows are not padded to the console's width).
    console = Console(width=width or 1_000_000, soft_wrap=False, highlight=False,
                      force_terminal=sys.stdout.isatty() or None)
    with console.capture() as captured:
        for block in blocks:
            console.print(block)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_human(data: Any, schema: dict[str, Any] | None = None, title: str | None = None) -> None:
    """Key/value lines for scalars, then a titled block per nested object and list of records."""
    width = output_width()
    _print(_blocks(data, schema, title, None, width), width)


def print_records(records: list[dict[str, Any]], title: str | None = None,
                  columns: list[str] | None = None, schema: dict[str, Any] | None = None) -> None:
    """A list of records as a table, or as key/value blocks where no table fits."""
    width = output_width()
    _print(_records(records, schema, title, None, width, columns), width)


def _blocks(data: Any, schema: dict[str, Any] | None, title: str | None, unit: str | None,
            width: int | None) -> Iterator[Any]:
    if not isinstance(data, dict):
        if _is_records(data):
            yield from _records(data, _items(schema), title, unit, width)
        else:
            yield _kv([(title or "", format_value(data, unit, schema))], width, title=None)
        return
    scalars = []
    for key, value in data.items():
        if not (_is_records(value) or _is_section(value)):
            child = _child(schema, key)
            scalars.append((key, format_value(value, unit_of(key, child, unit), child)))
    if scalars:
        yield _kv(scalars, width, title)
    for key, value in data.items():
        child = _child(schema, key)
        name = f"{title}.{key}" if title else key
        if _is_section(value):
            yield ""
            yield from _blocks(value, child, name, unit_of(key, child, unit), width)
        elif _is_records(value):
            yield ""
            yield from _records(value, _items(child), name, unit_of(key, child, unit), width)


def _kv(pairs: list[tuple[str, str]], width: int | None, title: str | None) -> Any:
    """``key  value`` lines, keys aligned; a value too long for its line wraps at spaces under
    itself, or (one long word: an id, a hash) moves whole to the next line."""
    from rich.text import Text

    text = Text()
    if title:
        text.append(title + "\n", style="bold")
    key_width = max(len(k) for k, _ in pairs)
    if width is not None:
        key_width = min(key_width, max(width // 3, 8))
    room = None if width is None else width - key_width - _GAP
    for key, value in pairs:
        lines = value.split("\n")
        if room is not None and (len(key) > key_width or any(len(line) > room for line in lines)):
            if " " in value.strip() and len(key) <= key_width:
                lines = [w for line in lines for w in _wrap(line, room)]
            else:  # the key, then the value on the lines below it, indented
                text.append(key, style="bold cyan")
                for line in lines:
                    for piece in _wrap(line, width - _GAP):  # type: ignore[operator]
                        text.append("\n" + " " * _GAP + piece)
                text.append("\n")
                continue
        text.append(key.ljust(key_width), style="bold cyan")
        text.append(" " * _GAP + lines[0])
        for line in lines[1:]:
            text.append("\n" + " " * (key_width + _GAP) + line)
        text.append("\n")
    text.rstrip()
    return text


def _wrap(line: str, room: int) -> list[str]:
    # Words longer than the room are split (nothing else can keep the width), others never.
    return textwrap.wrap(line, max(room, 1), break_on_hyphens=False) or [""]


def _records(records: list[dict[str, Any]], schema: dict[str, Any] | None, title: str | None,
             unit: str | None, width: int | None, columns: list[str] | None = None) -> Iterator[Any]:
    if columns is None:
        columns = []
        for record in records:
            columns.extend(k for k in record if k not in columns)
    rows = []
    for record in records:
        row = []
        for column in columns:
            child = _child(schema, column)
            row.append(format_value(record.get(column), unit_of(column, child, unit), child))
        rows.append(row)
    # A column with no text in any row says nothing (a value of None still shows as "-").
    keep = [i for i in range(len(columns)) if any(row[i] for row in rows)]
    columns, rows = [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]
    chunks = _chunks(columns, rows, width)
    if chunks is None:
        total = len(rows)
        for i, row in enumerate(rows, 1):
            if i > 1:
                yield ""
            yield _kv(list(zip(columns, row, strict=True)), width, f"{title or 'record'} {i}/{total}")
        return
    from rich.text import Text

    for n, (indices, widths) in enumerate(chunks):
        name = title
        if len(chunks) > 1:
            shown = [i + 1 for i in indices if i or not n]
            span = f"column {shown[0]}" if len(shown) == 1 else f"columns {shown[0]}-{shown[-1]}"
            name = f"{title or 'records'} ({span} of {len(columns)})"
            if n:
                yield ""
        if name:
            yield Text(name, style="bold")
        yield _table([columns[i] for i in indices], [[row[i] for i in indices] for row in rows], widths)


def _chunks(columns: list[str], rows: list[list[str]], width: int | None) -> list[tuple[list[int], list[int]]] | None:
    """The table in slices of columns that each fit, the first column repeated in every slice (as
    pandas prints a wide frame); ``None`` when not even the first column and one more fit."""
    whole = _fit(columns, rows, width)
    if whole is not None:
        return [(list(range(len(columns))), whole)]
    chunks: list[tuple[list[int], list[int]]] = []
    current = [0]
    widths: list[int] | None = None
    for i in range(1, len(columns)):
        trial = _fit([columns[j] for j in [*current, i]], [[row[j] for j in [*current, i]] for row in rows], width)
        if trial is not None:
            current, widths = [*current, i], trial
            continue
        if widths is None:
            return None
        chunks.append((current, widths))
        current = [0, i]
        widths = _fit([columns[j] for j in current], [[row[j] for j in current] for row in rows], width)
        if widths is None:
            return None
    if widths is not None:
        chunks.append((current, widths))
    return chunks


def _table(columns: list[str], rows: list[list[str]], widths: list[int]) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # Text, not str, everywhere: a cell's "[...]" is data, not rich markup.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold cyan")
    for column, w, numeric in zip(columns, widths, _numeric_columns(rows, len(columns)), strict=True):
        table.add_column(Text(column), width=w, overflow="fold", justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def _numeric_columns(rows: list[list[str]], n: int) -> list[bool]:
    number = re.compile(r"^-?[\d,]+(\.\d+)?(%| bps)?$|^-$")
    return [all(number.match(row[i]) for row in rows) and any(row[i] != "-" for row in rows)
            for i in range(n)]


def _fit(columns: list[str], rows: list[list[str]], width: int | None) -> list[int] | None:
    """Column widths that fit ``width``: never narrower than a header or a word; ``None``: none do."""
    gaps = 3 * (len(columns) - 1)  # SIMPLE_HEAD without edges: a divider and a space either side
    lows, highs = [], []
    for i, column in enumerate(columns):
        cells = [row[i] for row in rows]
        lows.append(max([len(column)] + [len(word) for cell in cells for word in cell.split()]))
        highs.append(max([len(column)] + [max(map(len, cell.split("\n"))) for cell in cells]))
    if width is None or sum(highs) + gaps <= width:
        return highs
    spare = width - gaps - sum(lows)
    if spare < 0:
        return None
    widths = list(lows)
    # Share the spare room among the wrapping columns, narrowest need first, so short texts stay
    # whole and the longest one wraps.
    for i in sorted(range(len(columns)), key=lambda i: highs[i] - lows[i]):
        want = highs[i] - lows[i]
        if want:
            share = min(want, spare)
            widths[i] += share
            spare -= share
    return widths


# -- errors and progress -------------------------------------------------------------------------


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
