"""Daily reconciliation (D10): per hall day × window × profile, the ratings the hall stored against
the receipts of the outbox. Neither platform can be asked for counts, so our receipts are the
reference; what this checks is that every stored rating has its record and that every record got
its receipt.

Each rating falls in one category, in this order: excluded (an upheld 申诉, D11), delivered
(accepted or duplicate), pending (pending, retrying, blocked_on_service), rejected, unpushable
(no 办件编号, or its key is another rating's), missing (no outbox row at all: rated while no
[province] was configured, or a bug). A gap is anything but excluded and delivered; a gap whose
rating is older than `retry_max_s` raises the supervisor's alert (it has outlived every retry).
"""

from __future__ import annotations

CATEGORIES = ("stored", "delivered", "pending", "rejected", "unpushable", "excluded", "missing")

_CATEGORY = """
CASE WHEN x.case_id IS NOT NULL OR o.excluded_at IS NOT NULL OR o.state = 'excluded' THEN 'excluded'
     WHEN o.id IS NULL THEN 'missing'
     WHEN o.state IN ('accepted', 'duplicate') THEN 'delivered'
     WHEN o.state IN ('pending', 'retrying', 'blocked_on_service') THEN 'pending'
     WHEN o.state = 'rejected' THEN 'rejected'
     ELSE 'unpushable' END
"""
# First ratings (and 系统默认评价 where the profile pushes them) from `ratings`, 二次评价 from
# `second_ratings`: what the hall stored, each joined to its outbox row.
_FIRST = f"""
SELECT r.window AS window, {_CATEGORY} AS category, r.at AS at
FROM ratings r
LEFT JOIN province_outbox o ON o.case_id = r.case_id AND o.profile = :profile AND o.step = 'rating'
     AND o.kind IN ('first', 'default') AND o.state != 'superseded'
LEFT JOIN rating_exclusions x ON x.case_id = r.case_id
WHERE r.day = :day AND r.level IS NOT NULL AND (r.defaulted = 0 OR :defaults)
"""
_SECOND = f"""
SELECT r.window AS window, {_CATEGORY.replace('x.case_id IS NOT NULL OR ', '')} AS category, r.at AS at
FROM second_ratings r
LEFT JOIN province_outbox o ON o.case_id = r.case_id AND o.profile = :profile AND o.step = 'rating'
     AND o.kind = 'second'
WHERE r.day = :day
"""


async def reconcile_day(journal, day: str, profile: str, defaults: bool, now: float, cap_s: float) -> list[dict]:
    """One dict per window with the counts of CATEGORIES, `oldest_gap_at` and `alert`."""
    params = {"day": day, "profile": profile, "defaults": int(defaults)}
    rows = [*await journal.fetchall(_FIRST, params), *await journal.fetchall(_SECOND, params)]
    out: dict[str, dict] = {}
    for r in rows:
        w = out.setdefault(r["window"], {"window": r["window"], **{c: 0 for c in CATEGORIES},
                                         "oldest_gap_at": None, "alert": False})
        w["stored"] += 1
        w[r["category"]] += 1
        if r["category"] not in ("delivered", "excluded"):
            if w["oldest_gap_at"] is None or r["at"] < w["oldest_gap_at"]:
                w["oldest_gap_at"] = r["at"]
            if r["at"] < now - cap_s:
                w["alert"] = True
    return sorted(out.values(), key=lambda w: (len(w["window"]), w["window"]))


async def stored_figures(journal, day: str, profile: str) -> list[dict]:
    """The reconciliation last journaled for a day (as `reconcile_day` returns it)."""
    rows = await journal.fetchall(
        "SELECT window, stored, delivered, pending, rejected, unpushable, excluded, missing, oldest_gap_at, alert"
        " FROM province_reconciliations WHERE day = ? AND profile = ?", (day, profile))
    out = [dict(r) | {"alert": bool(r["alert"])} for r in rows]
    return sorted(out, key=lambda w: (len(w["window"]), w["window"]))
