"""Static files shared by every page (CSS; pages keep their scripts inline or next to this)."""

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
routes = [Mount("/static", StaticFiles(directory=STATIC), name="static")]
