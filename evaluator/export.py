"""Report rows as CSV (Excel opens it with Chinese intact) or XLSX.

CSV: UTF-8 with a BOM (without it Excel on a Chinese Windows reads GBK and garbles the text), CRLF
line ends, first row the field names the spec lists (`key`, `served`, …).
XLSX: one sheet; row 1 the same field names (what scripts read), row 2 the Chinese labels (what
people read), then the rows; the sheet title names the report.

No formulas (http-api.md 1.1, Reports): a text cell that starts with =, +, -, @, tab or CR would be
run by Excel or LibreOffice as a formula (a citizen's comment `=HYPERLINK(...)` becomes a live link),
so it is written with a leading apostrophe; XLSX text cells are always of type string.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

CSV_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """Text a spreadsheet will show as text, never run: an apostrophe before a formula's first character."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return safe_text(value)
    return value


def to_csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(fields)
    for row in rows:
        w.writerow([_cell(row.get(f)) for f in fields])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


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
    ws.append(list(fields))
    ws.append([(labels or {}).get(f, f) for f in fields])
    bold = Font(bold=True)
    for cell in (*ws[1], *ws[2]):
        cell.font = bold
    for row in rows:
        ws.append([_cell(row.get(f)) for f in fields])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl would take a leading "=" for a formula
    ws.freeze_panes = "B3"
    for i, f in enumerate(fields, 1):
        width = max(len(f), 2 * len((labels or {}).get(f, f))) + 2
        ws.column_dimensions[ws.cell(1, i).column_letter].width = min(width, 40)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(report: str, start: str, end: str, group_by: str, ext: str) -> str:
    return f"{report}_{start}_{end}_{group_by}.{ext}"
