"""The landing page at `/`: where each of the hall's pages is, for whoever opens the address the
daemon prints (an installer, a supervisor, a guide at the desk)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from queued.web.app import make_templates

_templates = make_templates()

PAGES = (
    ("/kiosk", "取号机", "群众现场取号，打印号票（需取号机令牌）"),
    ("/kiosk?mode=desk", "导办台", "导办员代取号，可发放绿色通道号（需管理员令牌）"),
    ("/screen", "叫号屏", "等候区大屏：叫号、语音播报、各业务等候人数"),
    ("/m", "手机取号", "微信公众号页面：远程取号、查看进度、预约、评价"),
    ("/clerk", "窗口工作台", "无硬件评价器的窗口：呼叫、重呼、过号、办结、转移、暂停、特呼"),
    ("/admin", "管理后台", "督查员：实时大厅、好差评分析、差评整改、报表下载"),
    ("/results", "结果公开", "各窗口每月好评率排名（不含个人信息）"),
)


async def home(request: Request) -> HTMLResponse:
    rt = request.app.state.runtime
    cfg = rt.config
    return _templates.TemplateResponse(request, "home.html", {
        "hall_name": cfg.hall.name, "pages": PAGES, "demo": cfg.demo, "day": rt.engine.day,
        "clerks": cfg.hall.clerks if cfg.demo else (),
    })


routes = [Route("/", home, methods=["GET"])]
