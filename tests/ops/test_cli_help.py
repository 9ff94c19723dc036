"""Every command's help: each option and argument has a text, each default is printed, argparse's
own words are in Chinese, and `queued --version` prints the package's version."""

from __future__ import annotations

import argparse
import re
import subprocess
from importlib.metadata import version

import pytest

from tests.support import QUEUED


def parsers():
    from central import cli as central_cli
    from central import demo, pgcluster
    from display import announcer, led_sim
    from firmware_bridge import emulator_cli, mqtt_bridge
    from queued import cli
    from queued.simulate import cli as simulate_cli

    return {"queued": cli.build_parser(), "pad-emu": emulator_cli._parser(), "bridge": mqtt_bridge._parser(),
            "led-sim": led_sim.parser(), "announcer": announcer.parser(), "central": central_cli.build_parser(),
            "simulate": simulate_cli.parser(), "central.demo": demo.parser(), "pgcluster": pgcluster.parser()}


def walk(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from walk(sub, f"{name} {sub_name}")


ALL = [(n, p) for name, top in parsers().items() for n, p in walk(top, name)]


@pytest.mark.parametrize("name, parser", ALL, ids=[n for n, _ in ALL])
def test_every_option_has_help_with_its_default(name, parser):
    text = parser.format_help()
    flat = re.sub(r"\s+", "", text)  # as read, across the lines the help wraps
    assert parser.description, f"{name}: no description"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction):
            continue
        flag = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{name} {flag}: no help text"
        default = action.default
        if default not in (None, False, "", argparse.SUPPRESS):
            assert f"默认：{default}" in flat or f"默认{default}" in flat, f"{name} {flag}: default {default!r} not shown"
    for english in ("usage:", "show this help message", "positional arguments", "options:"):
        assert english not in text, f"{name}: argparse's own English {english!r} in its help"


def test_version_and_help_from_the_command_line():
    out = subprocess.run([QUEUED, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == f"queued {version('queued')}", out
    for argv in (["--help"], ["serve", "--help"], ["pad-emu", "--help"], ["led-sim", "--help"],
                 ["announcer", "--help"], ["simulate", "--help"], ["central", "token", "create", "--help"]):
        out = subprocess.run([QUEUED, *argv], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and out.stdout.startswith("用法：queued"), (argv, out.stdout[:200], out.stderr[-300:])
    out = subprocess.run([QUEUED, "pad-emu", "--help"], capture_output=True, text=True, timeout=30)
    assert "pad = { port" in out.stdout and "--link" in out.stdout and "（默认：9600）" in out.stdout
