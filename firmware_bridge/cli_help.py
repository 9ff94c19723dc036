"""How every `queued` command prints its help: each option's text, then its default when it has
one — `（默认：9600）` — unless the text already names it. Descriptions keep their line breaks.

Here, in the package every other imports and which imports none of them (firmware_bridge never
imports queued), so the daemon, the tools and the bridge print their help the same way.
"""

from __future__ import annotations

import argparse
import re
import unicodedata

_TOKEN = re.compile(r"[\x21-\x7e]+|\s+|.")  # an ASCII word stays whole; any other character breaks


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` columns as a terminal shows them (a Chinese character takes two)."""
    lines, line = [], ""
    for token in _TOKEN.findall(" ".join(text.split())):
        if line and _width(line) + _width(token) > width:
            lines.append(line.rstrip())
            line = "" if token.isspace() else token
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines


class Help(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap(text, width)

    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default is argparse.SUPPRESS or default == ""
                or isinstance(action, argparse._HelpAction | argparse._VersionAction)
                or "%(default)" in text or "默认" in text):
            return text
        if action.option_strings or action.nargs in ("?", "*"):
            return f"{text}（默认：%(default)s）"
        return text


def parser(prog: str, description: str, **kw) -> argparse.ArgumentParser:
    """A tool's parser printing its help the same way (finish it with in_chinese once built)."""
    return argparse.ArgumentParser(prog=prog, description=description, formatter_class=Help, **kw)


def in_chinese(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The words argparse itself prints (section titles, -h), in Chinese, for `parser` and every
    sub-command below it. Returns the parser."""
    parser._positionals.title = "参数"
    parser._optionals.title = "选项"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = "显示此帮助后退出"
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                in_chinese(sub)
    return parser
