"""`queued simulate` as a director runs it: a real process, its text, JSON, CSV and chart."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from tests.simulate.helpers import DEMAND, HALL

ISSUE_BUSINESS_KEYS = {"tickets", "mean_wait_s", "p90_wait_s", "max_wait_s", "over_yellow", "over_red", "skip_rate"}
ISSUE_WINDOW_KEYS = {"served", "saturation", "extended_minutes"}


def simulate(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "queued.cli", "simulate", "--config", str(HALL), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, encoding="utf-8")
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_text_tables_for_a_director(tmp_path):
    chart = tmp_path / "waits.svg"
    p = simulate("--demand", str(DEMAND), "--days", "2", "--seed", "3", "--chart", str(chart))
    out = p.stdout
    assert "模拟 2 个工作日（随机种子 3）" in out
    for head in ("按业务", "平均等候", "90%等候", "超黄线", "超红线", "弃号率", "饱和度", "留号", "按窗口", "延时(分)",
                 "预计等候误差"):
        assert head in out
    assert "A 综合受理" in out and "12号窗口" in out
    svg = ET.parse(chart).getroot()
    assert svg.tag.endswith("svg") and "等候时间" in chart.read_text(encoding="utf-8")
    assert len(svg.findall(".//{http://www.w3.org/2000/svg}polyline")) >= 5  # four businesses and the p90


def test_json_has_the_issue_keys_and_is_reproducible():
    a = json.loads(simulate("--demand", str(DEMAND), "--days", "2", "--seed", "4", "--format", "json").stdout)
    b = json.loads(simulate("--demand", str(DEMAND), "--days", "2", "--seed", "4", "--format", "json").stdout)
    assert a == b
    assert a["days"] == 2 and a["seed"] == 4
    assert set(a["businesses"]) == {"A", "B", "C", "D"}
    for row in a["businesses"].values():
        assert ISSUE_BUSINESS_KEYS <= set(row)
        assert row["tickets"] > 0 and 0 <= row["skip_rate"] < 0.2
        assert row["mean_wait_s"] <= row["p90_wait_s"] <= row["max_wait_s"]
    assert set(a["windows"]) == {str(i) for i in range(1, 13)}
    for row in a["windows"].values():
        assert ISSUE_WINDOW_KEYS <= set(row) and 0 < row["saturation"] <= 1
    assert set(a["eta_error"]) >= {"mean_s", "p90_s"} and a["eta_error"]["mean_s"] > 0


def test_csv_opens_in_excel_with_chinese_intact():
    p = simulate("--demand", str(DEMAND), "--days", "1", "--format", "csv")
    assert p.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(p.stdout.lstrip("\ufeff"))))
    kinds = [r["kind"] for r in rows]
    assert kinds.count("business") == 4 and kinds.count("window") == 12 and kinds[-1] == "total"
    assert rows[0]["name"] == "综合受理" and int(rows[0]["tickets"]) > 0


def test_bad_input_is_named_and_changes_nothing(tmp_path):
    bad = tmp_path / "demand.toml"
    bad.write_text('[[arrivals]]\nbusiness = "A"\nper_hour = {"8:30" = 40}\n', encoding="utf-8")
    p = simulate("--demand", str(bad), check=False)
    assert p.returncode == 2 and p.stdout == ""
    assert "arrivals[0].per_hour (line 3)" in p.stderr and "HH:MM" in p.stderr
    p = simulate("--demand", str(tmp_path / "missing.toml"), check=False)
    assert p.returncode == 2 and "cannot read the demand file" in p.stderr
    p = simulate("--demand", str(DEMAND), "--days", "0", check=False)
    assert p.returncode == 2 and "--days" in p.stderr
    p = simulate("--demand", str(DEMAND), "--journal", str(HALL), check=False)
    assert p.returncode == 2 and "new file" in p.stderr


def test_journal_written_by_the_command(tmp_path):
    db = tmp_path / "sim.sqlite3"
    simulate("--demand", str(DEMAND), "--days", "1", "--journal", str(db))
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        (n,) = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()
        (done,) = conn.execute("SELECT COUNT(*) FROM tickets WHERE status = 'done'").fetchone()
    finally:
        conn.close()
    assert n > 500 and done > 0.9 * n
