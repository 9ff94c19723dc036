"""Configuration: the one place that reads the hall's TOML file and the environment.

Every key is checked against `config_schema.SCHEMA`; an unknown key or an impossible value stops
the start with a message naming the key and its line, so the daemon never runs half-configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from queued.config_schema import (
    LIST_SECTIONS,
    SCHEMA,  # noqa: F401  (part of this module's interface)
    _fail,
    _hhmm,
    _host_port,
    _hours,
    _is_date,
    _Lines,
    _section,
)
from queued.core.hall import OUTCOME_TEXT, Business, Clerk, HallConfig, Window
from queued.core.text import text_problem
from queued.core.workdays import WEEKDAYS, WorkCalendar
from queued.errors import ConfigError
from queued.pins.hashing import CONFIG_LOG2_N, PIN_RULE_TEXT, hash_pin, valid_pin

DEMO_HALL = Path(__file__).with_name("demo_hall.toml")
ENV_TEXT = ("QUEUED_HTTP", "QUEUED_EMBEDDED_MQTT", "QUEUED_MQTT_PASSWORD")


@dataclass(frozen=True)
class PadBinding:
    window: str
    port: str
    address: int


@dataclass(frozen=True)
class Config:
    hall: HallConfig
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    database: str = "queued.sqlite3"
    timezone: str = "Asia/Shanghai"
    public_url: str = ""
    log_level: str = "info"
    trusted_proxies: tuple[str, ...] = ()  # extension: X-Forwarded-For/-Proto are read only from these
    mqtt_url: str | None = None  # None: run the embedded broker
    mqtt_prefix: str = "queued"
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_client_id: str = ""
    mqtt_pads_username: str = ""
    embedded_mqtt: tuple[str, int] = ("127.0.0.1", 1883)
    embedded_mqtt_screens: tuple[str, ...] = ()
    rating_timeout_s: int = 30
    unrated_default: int | None = None
    review_deadline_working_days: int = 15
    announce_repeat: int = 2
    queue_alert: int = 0  # waiting per business at which the supervisor is asked to open a window
    rating_window_days: int = 7
    department: str = ""
    region_code: str = ""
    default_rating_pf: int = 7
    pads: tuple[PadBinding, ...] = ()
    buses: dict[str, dict[str, int]] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)  # wechat, printer, appointments
    item_codes: dict[str, str] = field(default_factory=dict)
    dept_codes: dict[str, str] = field(default_factory=dict)  # business → dept_code ('' = none)
    # [[clerk]] pin, hashed as the file is read (queued.pins): the plain PIN is not kept in memory
    clerk_pin_hashes: dict[str, str] = field(default_factory=dict)
    window_leaders: dict[str, str] = field(default_factory=dict)
    holidays: tuple[str, ...] = ()  # extension: weekday days off, for working-day deadlines
    workdays: tuple[str, ...] = ()  # extension: weekend make-up working days (调休)
    source: str = "demo"
    demo: bool = False


def load_config(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    """Read the config file (or the demo hall when there is none) and the QUEUED_* environment."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("QUEUED_CONFIG") or None
    if path is None:
        return _apply_env(demo_config(), env)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config: cannot read {p}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config: {p} is not UTF-8 text (byte {exc.start})") from None
    return _apply_env(parse_config(text, source=str(p)), env)


def _apply_env(cfg: Config, env: dict[str, str]) -> Config:
    from dataclasses import replace

    for name in ENV_TEXT:  # QUEUED_DATABASE is a path: any bytes the file system allows
        problem = text_problem(env.get(name) or "")
        if problem:
            raise ConfigError(f"environment {name}: holds {problem}")
    changes: dict[str, Any] = {}
    if env.get("QUEUED_DATABASE"):
        changes["database"] = env["QUEUED_DATABASE"]
    if env.get("QUEUED_HTTP"):
        try:
            changes["http_host"], changes["http_port"] = _host_port(env["QUEUED_HTTP"])
        except ValueError as exc:
            raise ConfigError(f"environment QUEUED_HTTP: {exc}") from exc
    if env.get("QUEUED_EMBEDDED_MQTT"):
        try:
            changes["embedded_mqtt"] = _host_port(env["QUEUED_EMBEDDED_MQTT"])
        except ValueError as exc:
            raise ConfigError(f"environment QUEUED_EMBEDDED_MQTT: {exc}") from exc
    if env.get("QUEUED_MQTT_PASSWORD"):
        changes["mqtt_password"] = env["QUEUED_MQTT_PASSWORD"]
    return replace(cfg, **changes) if changes else cfg


def parse_config(text: str, source: str = "<config>", overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """`overrides`: tables whose keys replace the file's before checking (the simulator's what-ifs)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {source} is not valid TOML: {exc}") from exc
    lines = _Lines(text)
    for table, values in (overrides or {}).items():
        if isinstance(raw.get(table, {}), dict):
            raw.setdefault(table, {}).update(values)
            for key in values:  # an overridden key's line is not the file's
                lines.where.pop((table, 0, key), None)
    for table, value in raw.items():
        if table not in SCHEMA:
            raise _fail(lines, table, 0, None, f"unknown section (known: {', '.join(SCHEMA)})", False)
        if (table in LIST_SECTIONS) != isinstance(value, list):
            form = f"[[{table}]]" if table in LIST_SECTIONS else f"[{table}]"
            raise _fail(lines, table, 0, None, f"must be written {form}", False)
    sec = {t: _section(raw.get(t, {}), t, 0, lines, False) for t in SCHEMA if t not in LIST_SECTIONS and t != "mqtt"}
    if "hall" not in raw:
        raise ConfigError("config: [hall] is required (with at least its id)")
    mqtt = _section(raw["mqtt"], "mqtt", 0, lines, False) if "mqtt" in raw else None
    lists = {t: [_section(item, t, i, lines, True) for i, item in enumerate(raw.get(t, []))] for t in LIST_SECTIONS}
    return _build(sec, mqtt, lists, lines, source, raw)


def _build(sec, mqtt, lists, lines: _Lines, source: str, raw: dict) -> Config:
    d, h = sec["daemon"], sec["hall"]

    def bad(table, index, key, msg, listed=False):
        return _fail(lines, table, index, key, msg, listed)

    try:
        ZoneInfo(d["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise bad("daemon", 0, "timezone", f"unknown time zone {d['timezone']!r}") from None
    try:
        http_host, http_port = _host_port(d["http"])
    except ValueError as exc:
        raise bad("daemon", 0, "http", str(exc)) from None
    try:
        embedded = _host_port(d["embedded_mqtt"])
    except ValueError as exc:
        raise bad("daemon", 0, "embedded_mqtt", str(exc)) from None
    screens = d["embedded_mqtt_screens"]
    proxies = []
    for entry in d["trusted_proxies"]:
        try:
            proxies.append(str(ipaddress.ip_network(entry, strict=False)) if isinstance(entry, str) else None)
        except ValueError:
            proxies.append(None)
        if proxies[-1] is None:
            raise bad("daemon", 0, "trusted_proxies", f"{entry!r} is not an IP address or network (e.g. 10.0.0.2 or "
                      "10.0.0.0/24)")
    if not all(isinstance(x, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", x) and x not in ("queued", "queued-pads")
               and not x.startswith("bridge-") for x in screens):
        raise bad("daemon", 0, "embedded_mqtt_screens", "expected screen ids of 1–64 letters, digits, '-' or '_' "
                  "(not queued, queued-pads or bridge-…)")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", h["id"]):
        raise bad("hall", 0, "id", "use 1–32 letters, digits, '-' or '_' (it is part of MQTT topics)")
    if not h["reasons"] or not all(isinstance(r, str) and r for r in h["reasons"]) or len(h["reasons"]) > 16:
        raise bad("hall", 0, "reasons", "expected 1–16 non-empty strings (a pad sends them as a 16-bit mask)")
    warn = h["warn_wait_minutes"]
    if len(warn) != 2 or not all(isinstance(x, int | float) and x > 0 for x in warn) or warn[0] > warn[1]:
        raise bad("hall", 0, "warn_wait_minutes", "expected [yellow, red] minutes, yellow ≤ red")
    if h["max_wait_minutes"] <= 0:
        raise bad("hall", 0, "max_wait_minutes", "must be positive")
    times: dict[str, int | None] = {}
    for key in ("stop_issuing", "closes", "hard_close"):
        times[key] = None
        if h[key]:
            try:
                times[key] = _hhmm(h[key])
            except ValueError as exc:
                raise bad("hall", 0, key, str(exc)) from None
    ordered = [(k, v) for k, v in times.items() if v is not None]
    for (k1, v1), (k2, v2) in zip(ordered, ordered[1:], strict=False):
        if v2 < v1:
            raise bad("hall", 0, k2, f"{h[k2]} is before {k1} {h[k1]} (expected stop_issuing ≤ closes ≤ hard_close)")
    for key, limit in (("pause_reasons", 20), ("outcomes", len(OUTCOME_TEXT))):
        values = h[key]
        if not all(isinstance(v, str) and v.strip() and len(v) <= 20 for v in values) or len(values) > limit:
            raise bad("hall", 0, key, f"expected at most {limit} non-empty strings of up to 20 characters")
        if len(set(values)) != len(values):
            raise bad("hall", 0, key, "a value is listed twice")
    for value in h["outcomes"]:
        if value not in OUTCOME_TEXT:
            raise bad("hall", 0, "outcomes", f"unknown outcome {value!r} (known: {', '.join(OUTCOME_TEXT)})")
    for value in h["service_days"]:
        if not (isinstance(value, str) and (value in WEEKDAYS or (
                re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and _is_date(value)))):
            raise bad("hall", 0, "service_days", f"expected \"YYYY-MM-DD\" dates or weekdays ({', '.join(WEEKDAYS)}),"
                                                 f" got {value!r}")
    if not 5 <= h["rating_timeout_s"] <= 255:
        raise bad("hall", 0, "rating_timeout_s", "must be 5..255 seconds (one byte on the pad)")
    ud = h["unrated_default"]
    if ud == "none":
        unrated_default = None
    elif isinstance(ud, int) and 1 <= ud <= 5:
        unrated_default = ud
    else:
        raise bad("hall", 0, "unrated_default", 'expected "none" or a level 1..5')
    if not 1 <= h["default_rating_pf"] <= 7:
        raise bad("hall", 0, "default_rating_pf", "must be a pf channel code 1..7")
    if h["review_deadline_working_days"] <= 0:
        raise bad("hall", 0, "review_deadline_working_days", "must be positive")
    for key in ("holidays", "workdays"):
        for value in h[key]:
            if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and _is_date(value)):
                raise bad("hall", 0, key, f"expected a list of \"YYYY-MM-DD\" dates, got {value!r}")
    for key in ("max_recalls", "announce_repeat", "rating_window_days", "queue_alert"):
        if h[key] < 0 or (key == "announce_repeat" and h[key] > 5):
            raise bad("hall", 0, key, "out of range")

    if not lists["business"]:
        raise ConfigError("config: at least one [[business]] is required")
    businesses, item_codes, dept_codes = [], {}, {}
    for i, b in enumerate(lists["business"]):
        if not re.fullmatch(r"[A-Z]{1,2}", b["code"]):
            raise bad("business", i, "code", "use one or two capital letters (it is the ticket prefix)", True)
        if any(x.code == b["code"] for x in businesses):
            raise bad("business", i, "code", f"{b['code']!r} is used twice", True)
        if b["daily_cap"] is not None and b["daily_cap"] <= 0:
            raise bad("business", i, "daily_cap", "must be positive", True)
        try:
            hours = _hours(b["hours"]) if b["hours"] is not None else ()
        except ValueError as exc:
            raise bad("business", i, "hours", str(exc), True) from None
        businesses.append(Business(b["code"], b["name"] or b["code"], b["daily_cap"], hours))
        if not re.fullmatch(r"[0-9A-Za-z_.-]{0,32}", b["dept_code"]):
            raise bad("business", i, "dept_code", "expected a department code (统一社会信用代码: letters and digits)",
                      True)
        item_codes[b["code"]] = b["item_code"]
        dept_codes[b["code"]] = b["dept_code"]
    codes = {b.code for b in businesses}

    clerks, pins = [], {}
    for i, k in enumerate(lists["clerk"]):
        if any(x.id == k["id"] for x in clerks):
            raise bad("clerk", i, "id", f"{k['id']!r} is used twice", True)
        if not 0 <= k["stars"] <= 5:
            raise bad("clerk", i, "stars", "must be 0..5", True)
        clerks.append(Clerk(k["id"], k["name"], k["stars"]))
        if k["pin"]:
            if not valid_pin(k["pin"]):
                raise bad("clerk", i, "pin", f"a PIN is {PIN_RULE_TEXT}", True)
            pins[k["id"]] = hash_pin(k["pin"], CONFIG_LOG2_N)
    clerk_ids = {k.id for k in clerks}

    if not lists["window"]:
        raise ConfigError("config: at least one [[window]] is required")
    windows, pads, leaders, seen_pads = [], [], {}, set()
    for i, w in enumerate(lists["window"]):
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", w["id"]):
            raise bad("window", i, "id", "use 1–16 letters, digits, '-' or '_'", True)
        if any(x.id == w["id"] for x in windows):
            raise bad("window", i, "id", f"{w['id']!r} is used twice", True)
        bs = w["businesses"]
        if not bs or not all(isinstance(x, str) for x in bs):
            raise bad("window", i, "businesses", "expected a non-empty list of business codes", True)
        for code in bs:
            if code not in codes:
                raise bad("window", i, "businesses", f"unknown business {code!r}", True)
        if len(set(bs)) != len(bs):
            raise bad("window", i, "businesses", "a business is listed twice", True)
        if w["leader"] and w["leader"] not in clerk_ids:
            raise bad("window", i, "leader", f"unknown clerk {w['leader']!r}", True)
        windows.append(Window(w["id"], tuple(bs), w["name"]))
        if w["leader"]:
            leaders[w["id"]] = w["leader"]
        if w["pad"] is not None:
            pad = w["pad"]
            extra = set(pad) - {"port", "address"}
            if extra or not isinstance(pad.get("port"), str) or not isinstance(pad.get("address"), int):
                raise bad("window", i, "pad", "expected { port = \"...\", address = 1..247 }", True)
            if not 1 <= pad["address"] <= 247:
                raise bad("window", i, "pad", "address must be 1..247", True)
            if (pad["port"], pad["address"]) in seen_pads:
                raise bad("window", i, "pad", f"address {pad['address']} on {pad['port']} is used twice", True)
            seen_pads.add((pad["port"], pad["address"]))
            pads.append(PadBinding(w["id"], pad["port"], pad["address"]))

    buses = {}
    for i, bus in enumerate(lists["bus"]):
        if bus["baudrate"] not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            raise bad("bus", i, "baudrate", "expected a standard rate (9600 … 115200)", True)
        if not 10 <= bus["reply_timeout_ms"] <= 2000:
            raise bad("bus", i, "reply_timeout_ms", "must be 10..2000", True)
        buses[bus["port"]] = {"baudrate": bus["baudrate"], "reply_timeout_ms": bus["reply_timeout_ms"],
                              "remote": bus["remote"]}
    remote = [p for p in pads if buses.get(p.port, {}).get("remote")]
    if len({p.address for p in remote}) != len(remote):  # MQTT pad topics carry the address alone
        raise ConfigError("config: pads on remote buses ([[bus]] remote = true) need distinct addresses")

    mqtt_url, prefix, user, password, client_id, pads_user = None, "queued", "", "", "", ""
    if mqtt is not None:
        if not re.match(r"^mqtts?://[^/:]+(:\d+)?/?$", mqtt["url"]):
            raise bad("mqtt", 0, "url", "expected mqtt://HOST:PORT or mqtts://HOST:PORT")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", mqtt["prefix"]):
            raise bad("mqtt", 0, "prefix", "use letters, digits, '-' or '_'")
        mqtt_url, prefix, user, client_id = mqtt["url"], mqtt["prefix"], mqtt["username"], mqtt["client_id"]
        pads_user = mqtt["pads_username"]
        if mqtt["password_file"]:
            try:
                password = Path(mqtt["password_file"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise bad("mqtt", 0, "password_file", f"cannot read: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise bad("mqtt", 0, "password_file", "is not UTF-8 text") from None
            if text_problem(password):
                raise bad("mqtt", 0, "password_file", f"the password holds {text_problem(password)}")

    kiosks = _kiosks(lists["kiosk"], lines)
    wechat = _wechat(sec["wechat"], lines)
    if not d["public_url"]:
        needs = ("[wechat] appid" if wechat["appid"] else
                 "[printer] url" if sec["printer"]["url"] else
                 next((f"[[kiosk]] {k['label']}" for k in kiosks if k["qr"]), None))
        if needs:
            raise bad("daemon", 0, "public_url", f"is required with {needs}: QR codes and WeChat links must lead "
                      "to an address a phone can open (e.g. public_url = \"https://hall.example.gov.cn\"; or "
                      "qr = false for a kiosk without QR codes)")
    elif not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", d["public_url"]):
        raise bad("daemon", 0, "public_url", "expected http(s)://HOST[:PORT][/path]")

    hall = HallConfig(
        id=h["id"], name=h["name"], businesses=tuple(businesses), windows=tuple(windows), clerks=tuple(clerks),
        reasons=tuple(h["reasons"]), max_wait_s=float(h["max_wait_minutes"]) * 60,
        warn_wait_s=(float(warn[0]) * 60, float(warn[1]) * 60), stop_issuing_minute=times["stop_issuing"],
        closes_minute=times["closes"], hard_close_minute=times["hard_close"],
        pause_reasons=tuple(h["pause_reasons"]),
        outcomes=tuple(h["outcomes"]),  # as listed: a pad's FINISH ARG n is the n-th (ARG 0 = done)
        days=WorkCalendar(h["holidays"], h["workdays"], h["service_days"]),
        max_recalls=h["max_recalls"], default_service_s=float(h["default_service_minutes"]) * 60,
        appointment_early_s=float(h["appointment_early_minutes"]) * 60,
    )
    return Config(
        hall=hall, http_host=http_host, http_port=http_port, database=d["database"], timezone=d["timezone"],
        public_url=d["public_url"].rstrip("/"), log_level=d["log_level"], trusted_proxies=tuple(proxies), mqtt_url=mqtt_url,
        mqtt_prefix=prefix, mqtt_username=user, mqtt_password=password, mqtt_client_id=client_id,
        mqtt_pads_username=pads_user, embedded_mqtt=embedded, embedded_mqtt_screens=tuple(screens),
        rating_timeout_s=h["rating_timeout_s"], unrated_default=unrated_default,
        review_deadline_working_days=h["review_deadline_working_days"], announce_repeat=h["announce_repeat"],
        queue_alert=h["queue_alert"],
        rating_window_days=h["rating_window_days"], department=h["department"], region_code=h["region_code"],
        pads=tuple(pads), buses=buses,
        sections={"wechat": wechat, "printer": sec["printer"], "kiosks": {k["label"]: k for k in kiosks},
                  "appointments": sec["appointments"], "limits": _limits(sec["limits"], lines),
                  "central": _central(sec["central"], lines),
                  "voice": _voice(sec["voice"], lines), "screen": _screen(sec["screen"], lines),
                  "province": _lined(sec["province"], lines, "province") if "province" in raw else None,
                  "sms": _lined(sec["sms"], lines, "sms") if "sms" in raw else None},
        item_codes=item_codes, dept_codes=dept_codes, clerk_pin_hashes=pins, window_leaders=leaders,
        source=source,
        holidays=tuple(h["holidays"]), workdays=tuple(h["workdays"]), default_rating_pf=h["default_rating_pf"],
    )


def _wechat(w: dict[str, Any], lines: _Lines) -> dict[str, Any]:
    """[wechat]: read the secret file here (the one place that reads files); check the endpoint."""
    w = dict(w)
    if w["subscribe_api"] not in ("send", "bizsend"):
        raise _fail(lines, "wechat", 0, "subscribe_api", 'expected "send" or "bizsend"', False)
    if not w["secret"] and w["secret_file"]:
        try:
            w["secret"] = Path(w["secret_file"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _fail(lines, "wechat", 0, "secret_file", f"cannot read: {exc.strerror or exc}", False) from None
        except UnicodeDecodeError:
            raise _fail(lines, "wechat", 0, "secret_file", "is not UTF-8 text", False) from None
        if text_problem(w["secret"]):
            raise _fail(lines, "wechat", 0, "secret_file", f"the secret holds {text_problem(w['secret'])}", False)
    if w["appid"] and not w["secret"]:
        raise _fail(lines, "wechat", 0, "appid", "is set but neither secret nor secret_file is", False)
    if w["appid"] and w["demo_login"]:
        raise _fail(lines, "wechat", 0, "demo_login", "a hall with a WeChat appid signs citizens in with WeChat: "
                    "remove demo_login", False)
    if w["notify_ahead"] < 0:
        raise _fail(lines, "wechat", 0, "notify_ahead", "must be 0 or more", False)
    return w


def _kiosks(items: list[dict[str, Any]], lines: _Lines) -> list[dict[str, Any]]:
    """[[kiosk]]: each ticket machine by its token's label, with its own printer (or none)."""
    out = []
    for i, k in enumerate(items):
        if not k["label"].strip():
            raise _fail(lines, "kiosk", i, "label", "expected the label of the kiosk's token", True)
        if any(x["label"] == k["label"] for x in out):
            raise _fail(lines, "kiosk", i, "label", f"{k['label']!r} is used twice", True)
        if k["printer"] and not re.match(r"^(serial|tcp|usb|file)://", k["printer"]):
            raise _fail(lines, "kiosk", i, "printer", "use serial://, tcp://, usb:// or file://", True)
        if not 16 <= k["width_chars"] <= 64:
            raise _fail(lines, "kiosk", i, "width_chars", "must be 16..64 (58 mm paper: 32, 80 mm: 48)", True)
        out.append(dict(k))
    return out


def _central(c: dict[str, Any], lines: _Lines) -> dict[str, Any]:
    """[central]: the city's central service; the token file is read here. No url: a hall on its own."""
    c = dict(c)
    c["token"] = ""
    if not c["url"]:
        return c
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", c["url"]):
        raise _fail(lines, "central", 0, "url", "expected http(s)://HOST[:PORT][/path]", False)
    c["url"] = c["url"].rstrip("/")
    if not c["token_file"]:
        raise _fail(lines, "central", 0, "token_file", "is required with url (queued central token create --hall ID)",
                    False)
    try:
        c["token"] = Path(c["token_file"]).read_text(encoding="utf-8").strip().splitlines()[-1].strip()
    except (OSError, IndexError) as exc:
        raise _fail(lines, "central", 0, "token_file", f"cannot read a token: {getattr(exc, 'strerror', None) or exc}",
                    False) from None
    if not 1 <= c["batch_size"] <= 5000:
        raise _fail(lines, "central", 0, "batch_size", "must be 1..5000", False)
    if not 1 <= c["timeout_s"] <= 300 or not 1 <= c["retry_max_s"] <= 3600:
        raise _fail(lines, "central", 0, "timeout_s" if not 1 <= c["timeout_s"] <= 300 else "retry_max_s",
                    "out of range", False)
    return c


def _voice(v: dict[str, Any], lines: _Lines) -> dict[str, Any]:
    """[voice]: how calls are spoken (display/voice reads the clips folder when it starts)."""
    def bad(key: str, msg: str) -> ConfigError:
        return _fail(lines, "voice", 0, key, msg, False)

    if v["engine"] not in ("auto", "clips", "espeak", "off"):
        raise bad("engine", 'expected "auto", "clips", "espeak" or "off"')
    if v["engine"] == "clips" and not v["clips"]:
        raise bad("clips", 'is required with engine = "clips" (the folder of recorded clips)')
    if not re.fullmatch(r"[A-Za-z0-9_+-]{1,40}", v["espeak_voice"]):
        raise bad("espeak_voice", "expected a voice name such as cmn-latn-pinyin (espeak-ng --voices)")
    if not v["espeak"] or v["espeak"].startswith("-"):
        raise bad("espeak", "expected the espeak-ng binary (a name on PATH or a path)")
    for key, low, high in (("espeak_speed", 80, 400), ("clip_gap_ms", 0, 2000), ("keep_minutes", 10, 1440),
                           ("cache_mb", 8, 4096)):
        if not low <= v[key] <= high:
            raise bad(key, f"must be {low}..{high}")
    return dict(v)


def _limits(v: dict[str, Any], lines: _Lines) -> dict[str, Any]:
    """[limits]: rate limits of tickets, bookings and demo sign-ins without a staff token."""
    for key, low, high in (("period_minutes", 1, 1440), ("issue_per_session", 0, 100_000),
                           ("issue_per_address", 0, 100_000), ("book_per_session", 0, 100_000),
                           ("book_per_address", 0, 100_000), ("sign_in_per_address", 0, 100_000),
                           ("max_tracked", 100, 1_000_000)):
        if not low <= v[key] <= high:
            raise _fail(lines, "limits", 0, key, f"must be {low}..{high}", False)
    return dict(v)


def _screen(s: dict[str, Any], lines: _Lines) -> dict[str, Any]:
    if len(s["notice"]) > 200:
        raise _fail(lines, "screen", 0, "notice", "at most 200 characters (one line along the screen)", False)
    return dict(s)


def _lined(values: dict[str, Any], lines: _Lines, table: str) -> dict[str, Any]:
    """A checked table with the line of each key (`_lines`), for the package that validates it further
    (evaluator/province/settings.py) to name the line in its errors."""
    out = dict(values)
    out["_lines"] = {k: lines.of(table, 0, k) for k in values}
    out["_lines"][""] = lines.of(table, 0, None)
    return out


def demo_config() -> Config:
    """The built-in demo hall (`queued/demo_hall.toml`): `queued serve` with no config file."""
    from dataclasses import replace

    cfg = parse_config(DEMO_HALL.read_text(encoding="utf-8"), source="built-in demo hall")
    return replace(cfg, demo=True)
