"""二次评价: after a 差评 is rectified (整改), the citizen judges the fix through a link of its own.

    followup_rectified ──(adapter: a channel can reach the citizen)──▶ IssueRecheck ──▶ recheck_issued
    the citizen opens /r/{token} ──▶ AnswerRecheck ──▶ second_rating_recorded (+ followup_closed)

A pure component. One link per 差评 (the token: 96 random bits, made by the adapter); one answer
per link, taken until `expires_at` (RECHECK_VALID_DAYS after the link was made). The answer is a
record of its own (`SecondRatingRecorded`, never an overwrite of the first rating), which the
provincial outbox takes in the same transaction as a new record (province.md D11, assessNumber 2).
While the follow-up is still `rectified` the answer also closes it with the citizen's verdict
(levels 3–5 满意, 1–2 不满意); a follow-up a supervisor closed by phone keeps its verdict, the
citizen's own answer is still stored and pushed. An item under appeal or removed takes no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evaluator import events as ev
from evaluator import followup as f
from evaluator.errors import AlreadyRated, EvaluatorError, InvalidRating, RatingClosed
from queued.core.events import Event, event

RECHECK_VALID_DAYS = 15
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,43}")
MAX_COMMENT = 500
BY = "群众（二次评价）"


class UnknownLink(EvaluatorError):
    code = "not_found"  # 404


@dataclass(slots=True, frozen=True)
class IssueRecheck:
    case: int
    token: str
    channel: str  # sms | wechat: the first way the adapter tries
    ticket: str
    day: str
    business: str
    window: str
    clerk: str | None
    project_no: str | None


@dataclass(slots=True, frozen=True)
class AnswerRecheck:
    token: str
    level: int
    comment: str
    rating_id: str  # UUID from the adapter
    channel: str  # sms | wechat: how the link reached the citizen (the delivery's receipt)


@event("recheck_issued")
class RecheckIssued(Event):
    at: float
    case: int
    token: str
    channel: str
    expires_at: float
    ticket: str
    day: str
    business: str
    window: str
    clerk: str | None
    project_no: str | None


@dataclass(slots=True)
class Link:
    case: int
    token: str
    expires_at: float
    ticket: str
    day: str
    business: str
    window: str
    clerk: str | None
    project_no: str | None
    answered: bool = False


class RecheckBook:
    commands = (IssueRecheck, AnswerRecheck)

    def __init__(self, followups: f.FollowupBook):
        self.followups = followups
        self.links: dict[str, Link] = {}
        self.by_case: dict[int, Link] = {}

    async def prepare(self, journal, day: str) -> None:
        rows = await journal.fetchall(
            "SELECT case_id, token, expires_at, ticket, day, business, window, clerk, project_no, answered_at"
            " FROM rechecks")
        for r in rows:
            self._add(Link(r["case_id"], r["token"], r["expires_at"], r["ticket"], r["day"], r["business"],
                           r["window"], r["clerk"], r["project_no"], r["answered_at"] is not None))

    def _add(self, link: Link) -> None:
        self.links[link.token] = link
        self.by_case[link.case] = link

    def link(self, token: str) -> Link:
        found = self.links.get(token) if isinstance(token, str) and TOKEN.fullmatch(token) else None
        if found is None:
            raise UnknownLink("链接无效，请核对短信或微信通知中的链接（unknown link）")
        return found

    def execute(self, cmd, now: float) -> list[Event]:
        out = self._issue(cmd, now) if type(cmd) is IssueRecheck else self._answer(cmd, now)
        for x in out:
            self.apply(x)
        return out

    def _issue(self, cmd: IssueRecheck, now: float) -> list[Event]:
        it = self.followups.item(cmd.case)
        if it.state != "rectified":
            raise f.FollowupStateError(f"办件 {cmd.case} 尚未整改，不能发送二次评价链接（state is {it.state}）")
        if cmd.case in self.by_case:
            raise f.FollowupStateError(f"办件 {cmd.case} 已发过二次评价链接（a link exists for case {cmd.case}）")
        if cmd.channel not in ev.SECOND_CHANNELS or not TOKEN.fullmatch(cmd.token) or cmd.token in self.links:
            raise InvalidRating("二次评价链接参数不正确（bad channel or token）")
        return [RecheckIssued(now, cmd.case, cmd.token, cmd.channel, now + RECHECK_VALID_DAYS * 86400, cmd.ticket,
                              cmd.day, cmd.business, cmd.window, cmd.clerk, cmd.project_no)]

    def _answer(self, cmd: AnswerRecheck, now: float) -> list[Event]:
        link = self.link(cmd.token)
        level = cmd.level
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            raise InvalidRating(f"请选择对整改结果的评价（level must be 1..5, got {level!r}）")
        comment = cmd.comment or ""
        if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
            raise InvalidRating(f"意见不超过 {MAX_COMMENT} 字（comment longer than {MAX_COMMENT} characters）")
        if cmd.channel not in ev.SECOND_CHANNELS or not cmd.rating_id:
            raise InvalidRating("缺少评价编号或渠道（rating_id and channel are required）")
        if link.answered:
            raise AlreadyRated("您已评价过本次整改，感谢您的反馈（this rectification is already judged）")
        if now >= link.expires_at:
            raise RatingClosed(f"评价链接已过期（{RECHECK_VALID_DAYS} 天内有效）（the link expired）")
        it = self.followups.item(link.case)
        if it.state in ("appealed", "removed"):
            raise f.FollowupStateError("该评价正在申诉审核或已剔除，暂不能评价整改结果（the item is under appeal）")
        out: list[Event] = [ev.SecondRatingRecorded(now, cmd.rating_id, link.case, link.ticket, level, 0,
                                                    comment.strip(), cmd.channel, link.window, link.clerk,
                                                    link.business, link.day, link.project_no)]
        if it.state == "rectified":
            verdict = "dissatisfied" if ev.is_bad(level) else "satisfied"
            out.append(f.FollowupClosed(now, link.case, BY, verdict, comment.strip()))
        return out

    def apply(self, x: Event) -> None:
        kind = type(x)
        if kind is RecheckIssued:
            self._add(Link(x.case, x.token, x.expires_at, x.ticket, x.day, x.business, x.window, x.clerk,
                           x.project_no))
        elif kind is ev.SecondRatingRecorded:
            link = self.by_case.get(x.case)
            if link is not None:
                link.answered = True
