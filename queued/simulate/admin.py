"""/admin/planner: the staffing planner on the hall's own last N weeks, for its supervisors.

The run happens in a worker process (`python -m queued.simulate.worker`, at the lowest CPU priority
(SCHED_IDLE), with its own read-only connection to the database), so the daemon's loop never computes a plan and its journal
never reads history for it: the hall does not wait. One run at a time; the last result stays on
the page until the next. Signed in as /admin is (supervisor or admin, the "reports" right).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

import evaluator
from queued.simulate.chart import plan_svg
from queued.simulate.hallcodec import hall_to_dict
from queued.web.app import make_templates
from queued.web.errors import ApiError
from queued.web.inputs import principal

log = logging.getLogger("queued.simulate.admin")
TEMPLATES = Path(__file__).parent / "templates"
ADMIN_TEMPLATES = Path(evaluator.__file__).parent / "templates"  # admin_base.html: /admin's frame and tabs
RUN_TIMEOUT_S = 900
FORM = {  # field → (label, default, lowest, highest)
    "weeks": ("历史周数", 4, 1, 12),
    "target": ("目标：90% 等候不超过（分钟）", 15, 1, 120),
    "days": ("模拟天数", 20, 5, 60),
}


class PlannerPage:
    def __init__(self, daemon):
        self.daemon = daemon
        self.runtime = daemon.runtime
        self.config = daemon.config
        self.templates = make_templates(TEMPLATES, ADMIN_TEMPLATES)
        self.running: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self._task: asyncio.Task | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.routes = [Route("/admin/planner", self.page, methods=["GET"]),
                       Route("/admin/planner", self.start_run, methods=["POST"])]

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

    # ---- pages -----------------------------------------------------------------------------------

    async def _who(self, request: Request):
        try:
            p = await principal(request)
        except ApiError:
            p = None
        if p is None:
            return None, RedirectResponse(f"/admin/login?next={quote('/admin/planner')}", status_code=303)
        if not p.can("reports"):
            return None, self._render(request, p, 403, error=f"「{p.role}」角色不能使用排班测算。")
        return p, None

    def _render(self, request: Request, user, status: int = 200, **ctx) -> Response:
        form = ctx.pop("form", None) or (self.last or {}).get("form") or {k: v[1] for k, v in FORM.items()}
        plan = (self.last or {}).get("plan")
        ctx.setdefault("error", None)
        return self.templates.TemplateResponse(request, "planner.html", {
            "hall_name": self.config.hall.name, "user": user, "tab": "planner", "fields": FORM, "form": form,
            "running": self.running, "last": self.last, "plan": plan,
            "chart": plan_svg(plan, width=1360, height=380) if plan else "", "codes": list(plan["businesses"]) if plan else [], **ctx,
        }, status_code=status)

    async def page(self, request: Request) -> Response:
        user, away = await self._who(request)
        if away:
            return away
        return self._render(request, user)

    async def start_run(self, request: Request) -> Response:
        user, away = await self._who(request)
        if away:
            return away
        form = await request.form()
        values, errors = {}, []
        for key, (label, _default, lo, hi) in FORM.items():
            raw = str(form.get(key) or "").strip()
            if not raw.isdigit() or not lo <= int(raw) <= hi:
                errors.append(f"{label}须为 {lo}–{hi} 的整数")
                values[key] = raw[:8]
            else:
                values[key] = int(raw)
        if errors:
            return self._render(request, user, 422, error="；".join(errors), form=values)
        if self.running is not None:
            return self._render(request, user, 409, error="已有一次测算在进行中，请稍候。", form=values)
        today = self.runtime.calendar.day(self.runtime.clock())
        job = {"database": str(Path(self.config.database).resolve()), "timezone": self.config.timezone,
               "hall": hall_to_dict(self.config.hall), "weeks": values["weeks"], "today": today,
               "target_p90_s": values["target"] * 60, "days": values["days"], "seed": 1}
        self.running = {**values, "since": self.runtime.calendar.iso(self.runtime.clock())[11:19]}
        self._task = asyncio.create_task(self._run(job, values), name="planner-run")
        return RedirectResponse("/admin/planner", status_code=303)

    # ---- the worker --------------------------------------------------------------------------------

    async def _run(self, job: dict[str, Any], values: dict[str, int]) -> None:
        try:
            answer = await self._worker(job)
        except Exception as exc:  # a worker that died or hung: say so on the page, keep the daemon
            log.exception("planner run failed")
            answer = {"ok": False, "error": f"测算未能完成（{exc}）"}
        answer["form"] = values
        self.last = answer
        self.running = None

    async def _worker(self, job: dict[str, Any]) -> dict[str, Any]:
        self._proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "queued.simulate.worker", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(job).encode()), RUN_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"超过 {RUN_TIMEOUT_S // 60} 分钟") from None
        finally:
            self._proc = None
        if proc.returncode != 0:
            raise RuntimeError(f"worker exited {proc.returncode}: {err.decode(errors='replace')[-300:]}")
        return json.loads(out)
