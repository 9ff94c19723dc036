"""The report exports as a spreadsheet user meets them: LibreOffice Calc (headless) opens the XLSX
and the CSV and saves what it read as CSV. One header row, in Chinese; counts and rates are numbers
(rates shown as percentages); Chinese text intact; columns wide enough for their Chinese text."""

from __future__ import annotations

import csv
import io

import openpyxl

from evaluator import export
from evaluator.reports import LABELS
from tests.security.inputs_hall import bearer, client, full_hall, served
from tests.security.test_export_injection import soffice_to_csv

# LibreOffice's CSV filter: comma, double quote, UTF-8, from line 1, (format), (language),
# quote all text cells, (detect special numbers), save as shown (true) or the raw value (false).
AS_SHOWN = "44,34,76,1,,0,true,true,true"
RAW = "44,34,76,1,,0,true,true,false"


def soffice(path, outdir, options: str, infilter: str | None = None) -> list[list[str]]:
    text = soffice_to_csv(path, outdir, infilter, options)
    return list(csv.reader(io.StringIO(text)))



async def test_reviews_xlsx_and_csv_open_in_libreoffice_with_one_chinese_header(make_daemon, tmp_path, artifacts):
    d = await full_hall(make_daemon)
    sup = bearer(d, "supervisor")
    async with client(d) as c:
        for level in (5, 4, 1):  # window 1: 3 rated, 1 差评 → 好评率 66.7%
            case = await served(c, d)
            r = await c.post("/api/v1/ratings", json={"ticket": case["issued"]["id"], "key": case["issued"]["rating_key"],
                                                      "level": level, "reasons": [1] if level <= 2 else []})
            assert r.status_code == 201, r.text
        files = {}
        for fmt in ("xlsx", "csv"):
            r = await c.get(f"/api/v1/reports/reviews?group_by=window&format={fmt}", headers=sup)
            assert r.status_code == 200, r.text
            files[fmt] = tmp_path / fmt / f"reviews.{fmt}"
            files[fmt].parent.mkdir()
            files[fmt].write_bytes(r.content)
            (artifacts / f"reviews-by-window.{fmt}").write_bytes(r.content)
        q = await c.get("/api/v1/reports/queues?group_by=window&format=xlsx", headers=sup)
        assert q.status_code == 200
        (tmp_path / "queues.xlsx").write_bytes(q.content)

    labels = [LABELS[f] for f in ("key", "name", "served", "rated", "good", "bad", "good_rate", "bad_rate")]
    for fmt, infilter in (("xlsx", None), ("csv", "CSV:44,34,76,1")):
        rows = soffice(files[fmt], tmp_path / f"shown-{fmt}", AS_SHOWN, infilter)
        header = rows[0]
        assert set(labels) <= set(header), (fmt, header)
        assert not any(ch.isascii() and ch.isalpha() for h in header for ch in h), header  # no English row
        assert [r for r in rows[1:] if r and r[0] in ("key", "分组")] == []  # one header row only
        one = dict(zip(header, next(r for r in rows[1:] if r[0] == "1"), strict=False))
        assert one["名称"] == "1号窗口"  # Chinese intact
        assert (one["办件数"], one["评价数"], one["好评"], one["差评"]) == ("3", "3", "2", "1")
        if fmt == "xlsx":  # the cell's own format, 0.0%
            assert (one["好评率"], one["差评率"]) == ("66.7%", "33.3%"), one
        else:  # Calc reads "66.7%" as the number 0.667 and shows it in its percent format
            assert [round(float(one[k].rstrip("%")), 1) for k in ("好评率", "差评率")] == [66.7, 33.3], one
            assert one["好评率"].endswith("%")

    # Numbers are numbers: LibreOffice quotes every text cell and leaves numbers bare; unrounded,
    # the rate is the stored fraction 0.6667 (Calc still writes a percent-formatted number with "%").
    raw = soffice(files["xlsx"], tmp_path / "raw", RAW)
    one = dict(zip(raw[0], next(r for r in raw[1:] if r[0] == "1"), strict=False))
    assert one["好评率"] == "66.67%" and int(one["办件数"]) == 3
    line = soffice_to_csv(files["xlsx"], tmp_path / "quoted", None, RAW).splitlines()
    cells = line[[i for i, x in enumerate(line) if x.startswith('"1",')][0]].split(",")
    fields = raw[0]
    assert cells[fields.index("名称")] == '"1号窗口"' and cells[fields.index("办件数")] == "3"
    assert not cells[fields.index("好评率")].startswith('"')

    # In the file itself: one header row, a rate's number format, widths that fit Chinese text.
    ws = openpyxl.load_workbook(files["xlsx"]).active
    assert [c.value for c in ws[1]][:2] == ["分组", "名称"] and ws.cell(2, 1).value == "1"
    col = [c.value for c in ws[1]].index("好评率") + 1
    cell = ws.cell(2, col)
    assert cell.number_format == "0.0%" and abs(cell.value - 2 / 3) < 0.001
    for i, name in enumerate([c.value for c in ws[1]], 1):
        letter = ws.cell(1, i).column_letter
        widest = max(export.text_width(ws.cell(r, i).value or "") for r in range(1, ws.max_row + 1))
        assert ws.column_dimensions[letter].width >= widest, (name, ws.column_dimensions[letter].width, widest)
    assert ws.freeze_panes == "A2"
    qs = openpyxl.load_workbook(tmp_path / "queues.xlsx").active
    assert qs.cell(1, 1).value == "分组" and [c.value for c in qs[1]].count("分组") == 1


def test_csv_rates_are_percentages_and_the_header_is_chinese():
    rows = [{"key": "1", "name": "综合窗口", "good_rate": 2 / 3, "bad_rate": None, "rated": 3}]
    text = export.to_csv(rows, ["key", "name", "rated", "good_rate", "bad_rate"], LABELS).decode("utf-8")
    assert text.startswith("\ufeff分组,名称,评价数,好评率,差评率\r\n")
    assert text.splitlines()[1] == "1,综合窗口,3,66.7%,"
