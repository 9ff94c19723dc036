"""A fake provincial 好差评 platform (province.md §4) on a real loopback HTTP server, speaking both
profiles, with keys generated per run, every check of §4, scriptable faults and inspection.

    fake = FakePlatform(clock).start()
    fake.script(fake.ZJ, "500", "reset", "ok")      # per endpoint, consumed one request at a time
    fake.down(t0, t0 + 86400)                       # unreachable for a period of (simulated) time
    fake.stored("zhejiang")                         # what the platform holds
    fake.province_toml("zhejiang", tmp_path)        # a [province] table pointing here

Signatures are checked with the other SM2 implementation than the daemon's: the daemon encrypts
with snowland-smx, this fake decrypts with gmssl's curve arithmetic, SM3 and KDF and checks C3
itself (gmssl's own decrypt never does), so every shandong test is a cross-implementation check.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter, deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from gmssl import sm2 as gm_sm2
from gmssl import sm3 as gm_sm3
from pysmx.SM2 import generate_keypair

TZ = ZoneInfo("Asia/Shanghai")
FMT = "%Y-%m-%d %H:%M:%S"
DUP_SD = "评价数据不可重复"
ZJ_REQUIRED = ("areaCode", "deptCode", "taskCode", "taskName", "projectNo", "proStatus", "pf", "certkeyGOV",
               "userName", "userProp", "satisfaction", "assessTime", "assessNumber", "dataSource", "acceptDate")
ZJ_FIELDS = ZJ_REQUIRED + ("areaName", "taskHandleItem", "subMatter", "proDepartCode", "proDepart", "proManager",
                           "evalDetail", "writingEvaluation", "appStatus", "promiseTime")
SD_SERVICE_REQUIRED = ("areaCode", "deptCode", "taskType", "taskCode", "taskName", "projectNo", "proStatus",
                       "userName", "userProp", "acceptDate", "proChannel", "certKeyGOV", "orgcode", "userPageType",
                       "serviceName", "serviceNumber", "serviceTime", "dataSource")
SD_RATING_FIELDS = ("projectNo", "serviceNumber", "satisfaction", "pf", "name", "evalDetail", "writingEvaluation",
                    "assessTime", "taskType")
TASK_TYPES = ("01", "05", "07", "08", "09", "10", "20", "99")


class Rejected(Exception):
    """A validation failure: answered in the profile's rejection shape."""


def gm_decrypt(private_key: str, hex_text: str, mode: str) -> bytes:
    """SM2 decryption with gmssl's primitives and our own C3 check; ValueError when anything is off."""
    if not re.fullmatch(r"04[0-9a-fA-F]{256,}", hex_text or ""):
        raise ValueError("not 04-prefixed hex ciphertext")
    data = hex_text[2:].lower()
    c1 = data[:128]
    if mode == "c1c3c2":
        c3, c2 = data[128:192], data[192:]
    else:
        c2, c3 = data[128:-64], data[-64:]
    if not c2 or len(c2) % 2:
        raise ValueError("short ciphertext")
    g = gm_sm2.CryptSM2(private_key=private_key, public_key="00" * 64, mode=1)
    xy = g._kg(int(private_key, 16), c1)
    if xy is None:
        raise ValueError("C1 is not a point")
    t = gm_sm3.sm3_kdf(xy.encode("utf8"), len(c2) // 2)
    m = format(int(c2, 16) ^ int(t, 16), f"0{len(c2)}x")
    u = gm_sm3.sm3_hash(list(bytes.fromhex(xy[:64] + m + xy[64:])))
    if u != c3:
        raise ValueError("C3 does not match: wrong key, mode or a damaged ciphertext")
    return bytes.fromhex(m)


def _time(value: str, name: str, now: float, fmt: str = FMT) -> float:
    try:
        ts = datetime.strptime(value, fmt).replace(tzinfo=TZ).timestamp()
    except (TypeError, ValueError):
        raise Rejected(f"{name} 格式应为 yyyy-MM-dd HH:mm:ss") from None
    if ts > now + 1:
        raise Rejected(f"{name} 晚于平台当前时间")
    return ts


class FakePlatform:
    ZJ = "/zwztapi/offlinereport.do"
    SD_SERVICE = "/hcp/projectSubmit"
    SD_RATING = "/hcp/offlineTemp"
    FAULTS = ("ok", "500", "502", "gateway", "reset", "timeout", "slow", "drop", "reject")

    def __init__(self, clock=time.time, hold_s: float = 2.0, slow_s: float = 0.3, tenant: str = "370000000000",
                 sm2_mode: str = "c1c3c2", decrypt_with: str = "gmssl"):
        self.clock = clock
        self.hold_s, self.slow_s = hold_s, slow_s
        self.tenant = tenant
        self.sm2_mode = sm2_mode
        # gmssl (the other implementation: every test is a cross-check), or snowland for benchmarks,
        # where gmssl's string arithmetic (~20 ms a decryption) would measure the fake, not the push
        self.decrypt_with = decrypt_with
        self.user, self.password = "hall_" + secrets.token_hex(4), secrets.token_urlsafe(16)
        self.app_mark, self.app_word = "mark_" + secrets.token_hex(4), secrets.token_urlsafe(16)
        kp = generate_keypair()
        self.private_key, self.public_key = kp.privateKey.hex(), "04" + kp.publicKey.hex()
        self.lock = threading.Lock()
        self.store: dict[str, dict[tuple, dict]] = {"zhejiang": {}, "service": {}, "rating": {}}
        self.log: list[dict] = []
        self.faults: dict[str, deque[str]] = {self.ZJ: deque(), self.SD_SERVICE: deque(), self.SD_RATING: deque()}
        self.downs: list[tuple[float, float]] = []
        self._signs: dict[str, bytes] = {}
        self.window_of = lambda record: record.get("projectNo", "").split("-")[-2] if "-" in record.get(
            "projectNo", "") else ""
        self.server: ThreadingHTTPServer | None = None
        self.holding = 0  # requests being held right now (timeout/slow faults)
        self.gate = threading.Event()  # cleared by pause(): requests wait at the door until resume()
        self.gate.set()

    # ---- life ----------------------------------------------------------------------------------

    def start(self) -> FakePlatform:
        fake = self

        class Handler(_Handler):
            platform = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # ---- scripting -----------------------------------------------------------------------------

    def script(self, endpoint: str, *faults: str) -> None:
        """Faults for the next requests to `endpoint`, in order ("reject:message" carries its text)."""
        for f in faults:
            if f.split(":", 1)[0] not in self.FAULTS:
                raise ValueError(f"unknown fault {f!r}")
        with self.lock:
            self.faults[endpoint].extend(faults)

    def down(self, start: float, end: float) -> None:
        """Unreachable (connections reset) while `clock()` is in [start, end)."""
        with self.lock:
            self.downs.append((start, end))

    def pause(self) -> None:
        """Hold every request at the door (up to a minute) until `resume()`: a backlog builds up
        without a single failure, so a benchmark can time the drain alone."""
        self.gate.clear()

    def resume(self) -> None:
        self.gate.set()

    def province_toml(self, profile: str, directory: Path, timeout_s: float = 1.0, retry_base_s: float = 0.05,
                      retry_max_s: float = 0.5, extra: str = "") -> str:
        secret = Path(directory) / f"province-{profile}.secret"
        secret.write_text((self.password if profile == "zhejiang" else self.app_word) + "\n", encoding="utf-8")
        common = (f'area_code = "330201"\ndept_code = "11330200MB1234567X"\ntimeout_s = {timeout_s}\n'
                  f'retry_base_s = {retry_base_s}\nretry_max_s = {retry_max_s}\nsecret_file = "{secret}"\n'
                  f'depart_code = "001008"\ndepart_name = "高新区行政审批局"\narea_name = "高新区"\n')
        if profile == "zhejiang":
            return (f'\n[province]\nprofile = "zhejiang"\nurl = "{self.base}{self.ZJ}"\napp_key = "{self.user}"\n'
                    f'{common}{extra}\n[province.eval_detail]\n"服务态度差" = "501"\n"办事效率低" = "502"\n')
        return (f'\n[province]\nprofile = "shandong"\nurl = "{self.base}"\nservice_url = "{self.SD_SERVICE}"\n'
                f'rating_url = "{self.SD_RATING}"\napp_key = "{self.app_mark}"\n'
                f'platform_public_key = "{self.public_key}"\nsm2_mode = "{self.sm2_mode}"\n{common}{extra}\n'
                f'[province.eval_detail]\n"服务态度差" = "501"\n"办事效率低" = "502"\n')

    # ---- inspection ----------------------------------------------------------------------------

    def stored(self, kind: str) -> list[dict]:
        with self.lock:
            return [dict(v) for v in self.store[kind].values()]

    def counts(self, kind: str) -> Counter:
        """Stored records per (day of assessTime/serviceTime, window from the projectNo)."""
        out: Counter = Counter()
        for r in self.stored(kind):
            day = (r.get("assessTime") or r.get("serviceTime") or "")[:10]
            out[(day, self.window_of(r))] += 1
        return out

    def outcomes(self, endpoint: str | None = None) -> Counter:
        with self.lock:
            return Counter(e["outcome"] for e in self.log if endpoint is None or e["endpoint"] == endpoint)

    # ---- the protocol (called from the handler threads) ---------------------------------------

    def _next_fault(self, endpoint: str) -> str:
        with self.lock:
            q = self.faults.get(endpoint)
            return q.popleft() if q else "ok"

    def _is_down(self) -> bool:
        now = self.clock()
        return any(a <= now < b for a, b in self.downs)

    def _note(self, endpoint: str, outcome: str, key=None, detail: str = "") -> None:
        with self.lock:
            self.log.append({"endpoint": endpoint, "outcome": outcome, "key": key, "detail": detail,
                             "at": self.clock()})

    def zhejiang(self, headers, body: bytes) -> tuple[int, dict, tuple]:
        want = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if headers.get("Authorization") != want:
            return 401, {"result": "401", "resultmsg": "认证失败"}, None
        if not (headers.get("Content-Type") or "").lower().startswith("application/x-www-form-urlencoded"):
            return 415, {"result": "415", "resultmsg": "只接受表单提交"}, None
        try:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True,
                                                  strict_parsing=bool(body)).items()}
        except (UnicodeDecodeError, ValueError):
            return 400, {"result": "400", "resultmsg": "请求体不是合法的表单"}, None
        try:
            now = self.clock()
            unknown = set(form) - set(ZJ_FIELDS)
            if unknown:
                raise Rejected(f"未知字段 {','.join(sorted(unknown))}")
            for k in ZJ_REQUIRED:
                if not form.get(k):
                    raise Rejected(f"缺少必填字段 {k}")
            if not re.fullmatch(r"\d{12}", form["areaCode"]):
                raise Rejected("areaCode 应为12位")
            if form["pf"] not in "1234567" or len(form["pf"]) != 1:
                raise Rejected("pf 应为 1-7")
            if form["satisfaction"] not in ("1", "2", "3", "4", "5"):
                raise Rejected("satisfaction 应为 1-5")
            if form["proStatus"] not in ("1", "2", "3"):
                raise Rejected("proStatus 应为 1-3")
            if not form["assessNumber"].isdigit() or int(form["assessNumber"]) < 1:
                raise Rejected("assessNumber 应为正整数")
            if len(form["projectNo"]) > 50 or len(form["taskCode"]) > 31:
                raise Rejected("projectNo 或 taskCode 过长")
            assessed = _time(form["assessTime"], "assessTime", now)
            if _time(form["acceptDate"], "acceptDate", now) > assessed:
                raise Rejected("acceptDate 晚于 assessTime")
            if int(form["satisfaction"]) < 3 and not (form.get("evalDetail") or form.get("writingEvaluation")):
                raise Rejected("差评须填写评价内容代码或文字评价")
        except Rejected as exc:
            return 200, {"result": "1", "resultmsg": str(exc)}, None
        key = ("zhejiang", form["projectNo"], int(form["assessNumber"]))
        with self.lock:
            if key[1:] in self.store["zhejiang"]:
                return 200, {"result": "2", "resultmsg": "该评价数据重复，已存在"}, ("duplicate", key)
            self.store["zhejiang"][key[1:]] = dict(form, received_at=now)
        return 200, {"result": "0", "resultmsg": "成功"}, ("accepted", key)

    def _envelope(self, headers, body: bytes) -> dict:
        if headers.get("C-Tenancy-Id") != self.tenant:
            raise _Gateway(403, "租户标识 C-Tenancy-Id 错误")
        try:
            env = json.loads(body)
            txn = env["txnBodyCom"]
            mark, ts, sign = txn["appMark"], txn["time"], txn["sign"]
            enc = txn["params"]["evaluate"]
            assert isinstance(enc, list) and len(enc) == 1 and isinstance(enc[0], str)
            assert "txnCommCom" in env
        except (ValueError, KeyError, TypeError, AssertionError):
            raise _Gateway(200, "报文格式错误") from None
        if mark != self.app_mark:
            raise _Gateway(200, "应用标识不存在")
        try:
            sent = datetime.strptime(ts, "%Y%m%d%H%M%S").replace(tzinfo=TZ).timestamp()
        except (TypeError, ValueError):
            raise _Gateway(200, "time 格式错误") from None
        if abs(sent - self.clock()) > 300:
            raise _Gateway(200, "time 超出有效期（±5分钟）")
        with self.lock:
            plain = self._signs.get(sign)
        if plain is None:
            try:
                plain = self._decrypt(sign)
            except ValueError:
                raise _Gateway(200, "签名验证失败") from None
            with self.lock:
                if len(self._signs) > 1000:
                    self._signs.clear()
                self._signs[sign] = plain
        if plain != (ts + self.app_mark + self.app_word).encode():
            raise _Gateway(200, "签名验证失败")
        try:
            records = json.loads(self._decrypt(enc[0]))
        except ValueError:
            raise _Gateway(200, "evaluate 解密失败") from None
        if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
            raise Rejected("evaluate 应为一条记录的数组")
        return records[0]

    def _decrypt(self, hex_text: str) -> bytes:
        if self.decrypt_with == "gmssl":
            return gm_decrypt(self.private_key, hex_text, self.sm2_mode)
        from pysmx.SM2 import Decrypt

        if not re.fullmatch(r"04[0-9a-fA-F]{256,}", hex_text or ""):
            raise ValueError("not 04-prefixed hex ciphertext")
        out = Decrypt(hex_text[2:], self.private_key, 64, Hexstr=1, mode=self.sm2_mode.upper())
        if out is None:
            raise ValueError("C3 does not match")
        return out

    def shandong(self, endpoint: str, headers, body: bytes) -> tuple[int, dict, tuple]:
        now = self.clock()
        try:
            rec = self._envelope(headers, body)
            if endpoint == self.SD_SERVICE:
                for k in SD_SERVICE_REQUIRED:
                    if rec.get(k) in (None, ""):
                        raise Rejected(f"缺少必填字段 {k}")
                if not isinstance(rec["serviceNumber"], int) or rec["serviceNumber"] < 1:
                    raise Rejected("serviceNumber 应为正整数")
                if not re.fullmatch(r"\d{12}_[0-9A-Z]{18}", rec["orgcode"]):
                    raise Rejected("orgcode 应为 区划代码_统一社会信用代码")
                if rec["proChannel"] not in ("1", "2") or rec["userPageType"] != "111":
                    raise Rejected("proChannel 或 userPageType 不合法")
                if rec["taskType"] not in TASK_TYPES:
                    raise Rejected("taskType 不合法")
                served = _time(rec["serviceTime"], "serviceTime", now)
                if _time(rec["acceptDate"], "acceptDate", now) > served:
                    raise Rejected("acceptDate 晚于 serviceTime")
                key = ("service", rec["projectNo"], rec["serviceNumber"])
                with self.lock:
                    if key[1:] in self.store["service"]:
                        return 200, {"C-Response-Desc": DUP_SD}, ("duplicate", key)
                    self.store["service"][key[1:]] = dict(rec, received_at=now)
            else:
                unknown = set(rec) - set(SD_RATING_FIELDS)
                if unknown:
                    raise Rejected(f"未知字段 {','.join(sorted(unknown))}")
                for k in ("projectNo", "serviceNumber", "satisfaction", "pf", "assessTime", "taskType"):
                    if rec.get(k) in (None, ""):
                        raise Rejected(f"缺少必填字段 {k}")
                if rec["satisfaction"] not in ("1", "2", "3", "4", "5"):
                    raise Rejected("satisfaction 应为 1-5")
                if rec["pf"] not in ("1", "2", "3", "4", "5"):
                    raise Rejected("pf 应为 1-5")
                if rec["taskType"] not in TASK_TYPES:
                    raise Rejected("taskType 不合法")
                assessed = _time(rec["assessTime"], "assessTime", now)
                if int(rec["satisfaction"]) < 3 and not (rec.get("evalDetail") or rec.get("writingEvaluation")):
                    raise Rejected("差评须填写评价内容代码或文字评价")
                key = ("rating", rec["projectNo"], rec["serviceNumber"])
                with self.lock:
                    service = self.store["service"].get(key[1:])
                    if service is None:
                        raise Rejected("没有对应的服务数据")
                    if _time(service["serviceTime"], "serviceTime", now) > assessed:
                        raise Rejected("assessTime 早于 serviceTime")
                    if key[1:] in self.store["rating"]:
                        return 200, {"C-Response-Desc": DUP_SD}, ("duplicate", key)
                    self.store["rating"][key[1:]] = dict(rec, received_at=now)
        except _Gateway as exc:
            return exc.status, {"C-Response-Desc": exc.desc}, None
        except Rejected as exc:
            return 200, {"C-Response-Desc": "success", "C-Response-Body": {"success": "false",
                                                                           "message": str(exc)}}, None
        return 200, {"C-Response-Desc": "success", "C-Response-Body": {"success": "true"}}, ("accepted", key)


class _Gateway(Exception):
    def __init__(self, status: int, desc: str):
        super().__init__(desc)
        self.status, self.desc = status, desc


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    platform: FakePlatform

    def log_message(self, *args) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # The headers and the body go out in two writes: without this, Nagle holds the body until
        # the client's delayed ACK (40 ms a request), as a real platform's stack would not.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), the way a dead gateway does."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _answer(self, status: int, payload, content_type: str = "application/json; charset=UTF-8") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802
        p = self.platform
        endpoint = self.path.split("?")[0]
        if endpoint not in p.faults:
            self._answer(404, {"error": "no such endpoint"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= 1 << 20:
            self._answer(400, {"error": "bad length"})
            return
        body = self.rfile.read(length)
        p.gate.wait(60)
        if p._is_down():
            p._note(endpoint, "down")
            self._reset()
            return
        fault = p._next_fault(endpoint)
        kind = fault.split(":", 1)[0]
        if kind == "500":
            p._note(endpoint, "500")
            self._answer(500, b"Internal Server Error", "text/plain")
            return
        if kind == "502":
            p._note(endpoint, "502")
            self._answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            return
        if kind == "gateway":
            p._note(endpoint, "gateway")
            if endpoint == p.ZJ:
                self._answer(200, "<html>网关错误</html>".encode(), "text/html; charset=UTF-8")
            else:
                self._answer(200, {"C-Response-Desc": "服务调用失败：下游系统无响应"})
            return
        if kind == "reset":
            p._note(endpoint, "reset")
            self._reset()
            return
        if kind == "reject":
            msg = fault.split(":", 1)[1] if ":" in fault else "数据校验不通过"
            p._note(endpoint, "reject", detail=msg)
            if endpoint == p.ZJ:
                self._answer(200, {"result": "1", "resultmsg": msg})
            else:
                self._answer(200, {"C-Response-Desc": "success", "C-Response-Body": {"success": "false",
                                                                                     "message": msg}})
            return
        if kind in ("timeout", "slow"):
            with p.lock:
                p.holding += 1
            time.sleep(p.hold_s if kind == "timeout" else p.slow_s)
            with p.lock:
                p.holding -= 1
        if endpoint == p.ZJ:
            status, answer, stored = p.zhejiang(self.headers, body)
        else:
            status, answer, stored = p.shandong(endpoint, self.headers, body)
        outcome, key = stored if stored else ("refused" if status != 200 else "rejected", None)
        if kind in ("drop", "timeout") and outcome == "accepted":
            outcome = kind
        p._note(endpoint, outcome, key, detail=json.dumps(answer, ensure_ascii=False))
        if kind == "drop":
            self._reset()  # stored, and the answer is lost
            return
        self._answer(status, answer)
