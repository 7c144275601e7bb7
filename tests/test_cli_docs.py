"""The command line documents itself: every command has help text, and every `papier …` command shown in the
README (lines starting with `papier ` inside ```sh blocks) parses against the real CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from papier.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield prefix + (name,), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


ALL = list(_commands(main))


def test_there_are_commands():
    names = {" ".join(p) for p, _ in ALL}
    assert {"kit build", "forms check", "scan ingest", "export", "review", "reconcile", "demo"} <= names


@pytest.mark.parametrize("path,cmd", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_help(path, cmd):
    assert (cmd.help or "").strip(), f"papier {' '.join(path)} has no help text"
    r = CliRunner().invoke(main, [*path, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output


def readme_commands() -> list[str]:
    if not README.exists():
        return []
    out, in_sh = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("```"):
            in_sh = s in ("```sh", "```bash", "```shell") and not in_sh
            continue
        if in_sh and s.startswith("papier "):
            out.append(s.split("  #")[0].strip())
    return out


def _parse(argv: list[str]) -> None:
    """Parse argv like the CLI would, without running anything (raises click.UsageError on a bad line)."""
    ctx = main.make_context("papier", list(argv))
    cmd: click.Command = main
    while isinstance(cmd, click.Group):
        # click >= 8.2 keeps the subcommand name apart (protected_args is deprecated)
        args = [*ctx.__dict__.get("_protected_args", []), *ctx.args]
        if not args:
            return
        name, sub, rest = cmd.resolve_command(ctx, args)
        assert sub is not None, f"commande inconnue : {name}"
        cmd = sub
        ctx = sub.make_context(name, rest, parent=ctx)


def test_readme_has_commands():
    if not README.exists():
        pytest.skip("no README yet")
    assert readme_commands(), "README has no `papier …` line in a ```sh block"


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_parses(line):
    # optional parts shown as [--flag VALUE] are documentation of the syntax: parse the line without them
    line = re.sub(r"\s*\[[^\]]*\]", "", line)
    argv = shlex.split(line)[1:]
    _parse(argv)
