"""The configuration's keys and how one raw TOML table is checked against them.

`SCHEMA` is the whole vocabulary of a hall file: name → (type, default or required). Keys beyond
`../shared/spec/config.md` are marked "extension"; all of those have defaults. `_Lines` finds the
line of a key for error messages (tomllib reports none).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from queued.core.text import text_problem
from queued.errors import ConfigError

_REQUIRED = object()
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _hhmm(value: str) -> int:
    m = _HHMM.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a time of day HH:MM")
    return int(m.group(1)) * 60 + int(m.group(2))


def _hours(value: Any) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('expected a list of "HH:MM-HH:MM" strings')
    out = []
    for span in value:
        start, sep, end = span.partition("-")
        if not sep:
            raise ValueError(f'{span!r} is not "HH:MM-HH:MM"')
        s, e = _hhmm(start.strip()), _hhmm(end.strip())
        if e <= s:
            raise ValueError(f"{span!r} ends before it starts")
        out.append((s, e))
    return tuple(out)


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 < int(port) < 65536):
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host or "127.0.0.1", int(port)


# name → (type or tuple of types, default or _REQUIRED). Sections not listed are refused.
SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "daemon": {
        "http": (str, "127.0.0.1:8080"),
        "database": (str, "queued.sqlite3"),
        "timezone": (str, "Asia/Shanghai"),
        "public_url": (str, ""),  # extension: base of the URLs in ticket QR codes
        "embedded_mqtt": (str, "127.0.0.1:1883"),  # extension: where the embedded broker listens
        # extension: more display accounts on the embedded broker (screen ids) than led-<window>, board, led-sim
        "embedded_mqtt_screens": (list, []),
        "log_level": (str, "info"),  # extension
        # extension: reverse proxies (IPs or CIDRs) whose X-Forwarded-For/-Proto name the client; [] = none
        "trusted_proxies": (list, []),
    },
    "mqtt": {
        "url": (str, _REQUIRED),
        "prefix": (str, "queued"),
        "username": (str, ""),
        "password_file": (str, ""),
        "client_id": (str, ""),  # extension
        # extension: the remote pads' link logs in as this user (same password) where the broker
        # ties client ids to user names (use_username_as_clientid); "" = username
        "pads_username": (str, ""),
    },
    "hall": {
        "id": (str, _REQUIRED),
        "name": (str, "政务服务中心"),
        "reasons": (list, ["服务态度差", "办事效率低", "一次告知不清", "多次跑腿", "流程繁琐", "其他"]),
        "max_wait_minutes": ((int, float), 60),
        "warn_wait_minutes": (list, [30, 45]),
        "stop_issuing": (str, ""),  # 取号截止 "HH:MM"; absent: issuing ends at `closes` (if set)
        "closes": (str, ""),  # scheduled closing; windows keep serving what waits (延时服务)
        "hard_close": (str, ""),  # optional: what still waits then is closed out (留号)
        "pause_reasons": (list, ["会议", "就餐", "临时离岗", "业务咨询", "其他"]),
        "outcomes": (list, ["done", "accepted_pending", "returned", "consulted", "failed"]),
        "rating_timeout_s": (int, 30),
        "unrated_default": ((str, int), "none"),
        "review_deadline_working_days": (int, 15),
        "max_recalls": (int, 5),  # extension: 重呼 cap
        "default_service_minutes": ((int, float), 5),  # extension: before any case is measured
        "announce_repeat": (int, 2),  # extension: how often screens and announcers say a call (0..5)
        "queue_alert": (int, 0),  # extension: waiting per business at which /admin asks for another window; 0 = off
        "appointment_early_minutes": ((int, float), 10),  # extension
        "rating_window_days": (int, 7),  # extension: how long after 办结 a QR/web rating is taken
        "department": (str, ""),  # extension: for the national 好差评 export
        "region_code": (str, ""),  # extension: 行政区划代码 for the national export
        "default_rating_pf": (int, 7),  # extension: pf code of a 系统默认评价 in the national export (1..7)
        "holidays": (list, []),  # extension: "YYYY-MM-DD" days off on weekdays (差评 deadlines)
        "workdays": (list, []),  # extension: "YYYY-MM-DD" make-up working days on weekends (调休)
        # extension: extra service days (双休日、节假日办理): "YYYY-MM-DD" dates, or weekdays served every
        # week ("sat", "sun"; a holiday still closes those)
        "service_days": (list, []),
    },
    "business": {
        "code": (str, _REQUIRED),
        "name": (str, ""),
        "daily_cap": (int, None),
        "hours": (list, None),
        "item_code": (str, ""),  # extension: 事项编码 for the national export
        "dept_code": (str, ""),  # 办事部门 (统一社会信用代码) of its cases when a 办件 names none (config.md 1.1)
    },
    "clerk": {
        "id": (str, _REQUIRED),
        "name": (str, _REQUIRED),
        "stars": (int, 5),
        "pin": (str, ""),  # extension: 工号 + PIN sign-in on /clerk (hashed on load; `queued clerk set-pin` wins)
        "leader": (bool, False),  # extension: receives 差评 follow-ups of their windows
    },
    "window": {
        "id": (str, _REQUIRED),
        "businesses": (list, _REQUIRED),
        "pad": (dict, None),
        "name": (str, ""),  # extension
        "leader": (str, ""),  # extension: clerk id of the window's leader (差评 follow-up)
    },
    "bus": {
        "port": (str, _REQUIRED),
        "baudrate": (int, 9600),
        "reply_timeout_ms": (int, 100),  # extension
        "remote": (bool, False),  # extension: a bridge on another host serves this port over MQTT
    },
    "wechat": {  # extension: the mobile channel (issue 6)
        "appid": (str, ""),
        "secret": (str, ""),
        "secret_file": (str, ""),
        "api_base": (str, "https://api.weixin.qq.com"),
        "authorize_base": (str, "https://open.weixin.qq.com"),  # OAuth page (a local fake in tests)
        "template_ahead": (str, ""),
        "template_called": (str, ""),
        "template_recheck": (str, ""),  # extension (docs/followup.md): the 二次评价 link after 整改
        "notify_ahead": (int, 3),
        # message/subscribe/<send|bizsend>: `send` for mini programs (the contract), `bizsend`
        # for an official account's web pages; both take the same JSON.
        "subscribe_api": (str, "send"),
        "demo_login": (bool, False),  # config.md 1.1: the demo sign-in (no WeChat); demos and tests only
        "jssdk_url": (str, "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"),  # the JS-SDK of the consent button
    },
    "printer": {  # extension: the printer of kiosks and guide desks not listed in [[kiosk]] (docs/kiosk.md)
        "url": (str, ""),  # serial:///dev/ttyUSB1, tcp://10.0.0.9:9100, usb://04b8:0202, file:///tmp/x.bin
        "width_chars": (int, 32),
    },
    "kiosk": {  # extension, [[kiosk]]: one ticket machine, known by its token's label (docs/kiosk.md)
        "label": (str, _REQUIRED),  # queued token create --role kiosk --label LABEL
        "printer": (str, ""),  # its own printer (a URL as [printer] url); "" = it prints nothing
        "width_chars": (int, 32),
        "qr": (bool, True),  # QR codes on its screen and slips (they need [daemon] public_url)
        "elder": (bool, False),  # starts in 适老化 mode (large print, fewer choices, spoken guidance)
    },
    "voice": {  # extension: the spoken call, rendered on the server (mqtt.md 1.1 calls.audio; docs/voice.md)
        "engine": (str, "auto"),  # auto (clips when `clips` is set, else espeak-ng) | clips | espeak | off
        "clips": (str, ""),  # folder of the hall's recorded clips (请.wav, 号.wav, 0.wav … A.wav …)
        "clip_gap_ms": (int, 40),  # silence between two clips
        "espeak": (str, "espeak-ng"),  # the binary
        "espeak_voice": (str, "cmn-latn-pinyin"),  # Mandarin; plain `cmn` reads many characters' pinyin in English
        "espeak_speed": (int, 150),  # words per minute (espeak-ng -s)
        "keep_minutes": (int, 15),  # a call's WAV is served this long (at least 10, mqtt.md)
        "cache_mb": (int, 256),  # rendered audio kept in memory
    },
    "screen": {  # extension: /screen and /screen/window/{w} (docs/screens.md)
        "notice": (str, ""),  # the notice line along the bottom of /screen
    },
    "central": {  # config.md 1.1: ship the journal to the city's central service (many halls)
        "url": (str, ""),
        "token_file": (str, ""),
        "batch_size": (int, 500),  # extension: events per request
        "timeout_s": ((int, float), 15),  # extension: one request's limit
        "retry_max_s": ((int, float), 60),  # extension: longest pause between retries while it is down
    },
    "sms": {  # extension (docs/followup.md): the 二次评价 link by SMS; checked by evaluator/sms.py
        "provider": (str, "aliyun"),
        "endpoint": (str, "https://dysmsapi.aliyuncs.com"),
        "region": (str, "cn-hangzhou"),
        "access_key_id": (str, ""),
        "access_key_secret_file": (str, ""),  # or the environment's QUEUED_SMS_ACCESS_KEY_SECRET
        "sign_name": (str, ""),
        "template_code": (str, ""),
        "timeout_s": ((int, float), 5),
        "max_attempts": (int, 6),
    },
    "province": {  # the provincial 好差评 push (config.md 1.1, province.md; checked by evaluator/province/settings.py)
        "profile": (str, ""),  # zhejiang | shandong; required when [province] is present
        "url": (str, ""),
        "app_key": (str, ""),
        "secret_file": (str, ""),
        "area_code": (str, ""),
        "timeout_s": ((int, float), 10),
        "retry_base_s": ((int, float), 30),
        "retry_max_s": ((int, float), 3600),
        "max_rate": ((int, float), 20),  # extension: requests a second at most, so a backlog never crowds the hall
        "dept_code": (str, ""),
        "service_url": (str, ""),  # shandong
        "rating_url": (str, ""),  # shandong
        "tenant_id": (str, "370000000000"),  # shandong
        "platform_public_key": (str, ""),  # shandong
        "sm2_mode": (str, "c1c3c2"),  # shandong
        "data_source": (str, ""),  # default per profile: zhejiang 133, shandong 165
        "accepted_results": (list, ["0"]),  # zhejiang
        "duplicate_text": (str, "重复"),  # zhejiang
        "eval_detail": (dict, {}),  # [hall] reason → the platform's 测评内容 code
        "area_name": (str, ""),  # extension: zhejiang areaName
        "depart_code": (str, ""),  # extension: 受理部门编码 (zj proDepartCode; sd orgcode)
        "depart_name": (str, ""),  # extension: 受理部门名称 (zj proDepart; sd orgName)
        "task_type": (str, "01"),  # extension: 事项类型 when the case does not say
        "promise": (str, "immediate"),  # extension: immediate (即办件) | promised (承诺件)
        "project_prefix": (str, ""),  # extension: before projectNo; default shandong "37"
        "send_mobile": (bool, True),  # extension: false omits the applicant's phone (shandong service)
    },
    "limits": {  # extension: rate limits of citizens' actions without a staff token (docs/security.md)
        "period_minutes": ((int, float), 60),  # each count below is "at most N per period" (N at once)
        "issue_per_session": (int, 10),  # tickets per WeChat session (openid); 0 = no limit
        "issue_per_address": (int, 30),  # tickets per client address (IPv6: per /64), sessions or not
        "book_per_session": (int, 4),  # 分时段预约 bookings per WeChat session
        "book_per_address": (int, 10),  # bookings per client address
        "sign_in_per_address": (int, 30),  # /m demo sign-ins per client address
        "max_tracked": (int, 10_000),  # keys remembered per limit (bounded memory; see docs/security.md)
    },
    "appointments": {  # extension: 分时段预约
        "slot_minutes": (int, 30),
        "capacity": (int, 4),
        "days_ahead": (int, 5),
        "cancel_before_minutes": (int, 60),
        "no_show_limit": (int, 3),
    },
}
LIST_SECTIONS = {"business", "clerk", "window", "bus", "kiosk"}


class _Lines:
    """Finds the line of a key in the TOML text, for error messages (tomllib gives none)."""

    def __init__(self, text: str):
        self.where: dict[tuple[str, int, str], int] = {}
        self.tables: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if line.startswith("[["):
                table = line.strip("[] ").split("#")[0].strip()
                index = counts.get(table, -1) + 1
                counts[table] = index
                self.tables[(table, index)] = no
            elif line.startswith("["):
                table, index = line.strip("[] ").split("#")[0].strip(), 0
                self.tables[(table, 0)] = no
            elif "=" in line and not line.startswith("#"):
                self.where[(table, index, line.split("=", 1)[0].strip().strip('"'))] = no

    def of(self, table: str, index: int, key: str | None) -> int | None:
        if key is not None and (table, index, key) in self.where:
            return self.where[(table, index, key)]
        return self.tables.get((table, index))


def _fail(lines: _Lines, table: str, index: int, key: str | None, message: str, listed: bool) -> ConfigError:
    name = f"{table}[{index}]" if listed else table
    if key:
        name += f".{key}"
    line = lines.of(table, index, key)
    where = f" (line {line})" if line else ""
    return ConfigError(f"config: {name}{where}: {message}")


def _section(raw: dict, table: str, index: int, lines: _Lines, listed: bool) -> dict[str, Any]:
    schema = SCHEMA[table]
    out: dict[str, Any] = {}
    for key in raw:
        if key not in schema:
            known = ", ".join(schema)
            raise _fail(lines, table, index, key, f"unknown key (known keys: {known})", listed)
    for key, (typ, default) in schema.items():
        if key not in raw:
            if default is _REQUIRED:
                raise _fail(lines, table, index, key, "is required", listed)
            out[key] = default
            continue
        value = raw[key]
        if isinstance(value, bool) and typ is not bool and bool not in (typ if isinstance(typ, tuple) else (typ,)):
            raise _fail(lines, table, index, key, f"expected {_typename(typ)}, got true/false", listed)
        if not isinstance(value, typ):
            raise _fail(lines, table, index, key, f"expected {_typename(typ)}, got {type(value).__name__}", listed)
        problem = _text_problem(value)
        if problem:
            raise _fail(lines, table, index, key, f"holds {problem}: names, ids and paths are plain text", listed)
        out[key] = value
    return out


def _text_problem(value: Any) -> str | None:
    """The first string in `value` (a list or table too) that is not plain text, as text_problem says."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, list):
        return next((p for p in map(_text_problem, value) if p), None)
    if isinstance(value, dict):
        return next((p for p in map(_text_problem, [*value, *value.values()]) if p), None)
    return None


def _typename(typ: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table", bool: "true/false"}
    if isinstance(typ, tuple):
        return " or ".join(names[t] for t in typ)
    return names[typ]
