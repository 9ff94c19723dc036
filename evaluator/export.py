"""Report rows as CSV (Excel opens it with Chinese intact) or XLSX, for the people who read them.

One header row, in Chinese (http-api.md 1.1, Reports): the labels a report gives its fields (a field
without one keeps its name). A second header row would break sorting, filters and pivots, so there
is none; scripts read the JSON format, which keeps the field names.

Rates (a field named `rate`, `saturation` or `…_rate`, a fraction 0..1) are percentages: in XLSX the number itself
with the format 0.0% (so it sorts and sums as a number), in CSV the text `66.7%` (Excel and
LibreOffice read it back as the number 0.667 shown as a percentage).
CSV: UTF-8 with a BOM (without it Excel on a Chinese Windows reads GBK and garbles the text), CRLF
line ends. XLSX: one sheet titled after the report, the header bold and frozen, a filter on it,
columns as wide as their widest text (a Chinese character counts two).

No formulas (http-api.md 1.1, Reports): a text cell that starts with =, +, -, @, tab or CR would be
run by Excel or LibreOffice as a formula (a citizen's comment `=HYPERLINK(...)` becomes a live link),
so it is written with a leading apostrophe; XLSX text cells are always of type string.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PERCENT = "0.0%"
MIN_WIDTH, MAX_WIDTH = 6, 60


def safe_text(value: str) -> str:
    """Text a spreadsheet will show as text, never run: an apostrophe before a formula's first character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


RATE_FIELDS = frozenset({"rate", "saturation"})  # saturation: busy ÷ open minutes


def is_rate(field: str) -> bool:
    return field in RATE_FIELDS or field.endswith("_rate")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return safe_text(value)
    return value


def _csv_cell(field: str, value: Any) -> Any:
    if is_rate(field) and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value * 100:.1f}%"
    return _cell(value)


def header(fields: Sequence[str], labels: dict[str, str] | None) -> list[str]:
    return [(labels or {}).get(f, f) for f in fields]


def to_csv(rows: Sequence[dict[str, Any]], fields: Sequence[str], labels: dict[str, str] | None = None) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header(fields, labels))
    for row in rows:
        w.writerow([_csv_cell(f, row.get(f)) for f in fields])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def text_width(value: Any, rate: bool = False) -> int:
    """Columns a value takes in a spreadsheet's default font: wide (CJK) characters count two."""
    text = f"{value * 100:.1f}%" if rate and isinstance(value, int | float) else str(value)
    longest = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def _safe_title(title: str) -> str:
    # Excel forbids []:*?/\ in sheet names and allows 31 characters.
    for ch in "[]:*?/\\":
        title = title.replace(ch, "-")
    return title[:31] or "report"


def to_xlsx(rows: Sequence[dict[str, Any]], fields: Sequence[str], labels: dict[str, str] | None = None,
            title: str = "report") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = _safe_title(title)
    names = header(fields, labels)
    ws.append(names)
    bold, centre = Font(bold=True), Alignment(horizontal="center", vertical="center")
    for cell in ws[1]:
        cell.font, cell.alignment = bold, centre
    widths = [text_width(n) for n in names]
    rates = [is_rate(f) for f in fields]
    for row in rows:
        values = [_cell(row.get(f)) for f in fields]
        ws.append(values)
        for i, cell in enumerate(ws[ws.max_row]):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl would take a leading "=" for a formula
            elif rates[i] and isinstance(cell.value, int | float):
                cell.number_format = PERCENT
            widths[i] = max(widths[i], text_width(cell.value, rates[i]))
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = ws.dimensions
    for i, width in enumerate(widths, 1):
        # + 2 for the filter's drop-down button and the cell's padding
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(max(width + 2, MIN_WIDTH), MAX_WIDTH)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(report: str, start: str, end: str, group_by: str, ext: str) -> str:
    return f"{report}_{start}_{end}_{group_by}.{ext}"
