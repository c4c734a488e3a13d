"""The command line: help everywhere, no heavy imports on start-up, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import typer
from typer.testing import CliRunner

from modelmedic.cli import app

runner = CliRunner()


def command_names() -> list[str]:
    return sorted(cmd.name for cmd in typer.main.get_command(app).commands.values())


def test_every_command_has_help_with_an_example() -> None:
    """A command without help text or an example fails here (sqlite-utils' test_docs)."""
    names = command_names()
    assert {"data", "train", "ui", "demo"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, result.output
        assert "Example" in result.output and f"modelmedic {name}" in result.output, name


def test_help_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "from modelmedic.cli import app\n"
        "from typer.testing import CliRunner\n"
        "import typer\n"
        "names = [c.name for c in typer.main.get_command(app).commands.values()]\n"
        "for args in (['--help'], *[[c, '--help'] for c in names]):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "heavy = ('evidently', 'mlflow', 'sklearn', 'pandas', 'plotly', 'matplotlib', 'fastapi', 'sqlalchemy',\n"
        "         'pyspark', 'py4j')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_python_dash_m_works() -> None:
    result = subprocess.run([sys.executable, "-m", "modelmedic", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("modelmedic ")


ROOT = Path(__file__).resolve().parents[2]
GLOBAL_VALUES = {"--home", "--tracking-uri"}  # global options that take a value


def options_of(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}


def invocations(text: str) -> list[list[str]]:
    """The ``modelmedic ...`` command lines in ``text``'s code (shell and text blocks without
    their comments, and inline code spans), as lists of words."""
    code = [
        "\n".join(line.split(" #")[0] for line in block.splitlines())
        for language, block in re.findall(r"```([a-z]*)\n(.*?)```", text, flags=re.S)
        if language in {"", "bash", "sh", "console", "text"}
    ]
    code += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = []
    for snippet in code:
        for match in re.finditer(r"(?:^|(?<=[\s$(]))modelmedic((?: +[^\s&|;]+)+)", snippet, flags=re.M):
            found.append(match.group(1).split())
    return found


def check_invocation(words: list[str]) -> str | None:
    """What is wrong with ``modelmedic WORDS`` (an unknown command or option), else ``None``."""
    group = typer.main.get_command(app)
    while words and words[0].startswith("-"):
        option = words.pop(0).split("=")[0]
        if option not in options_of(group):
            return f"unknown global option {option}"
        if option in GLOBAL_VALUES and words:
            words.pop(0)
    if not words:
        return None
    name = words[0].rstrip(":")
    command = group.commands.get(name)  # type: ignore[attr-defined]
    if command is None:
        return f"unknown command {name}"
    unknown = [w.split("=")[0] for w in words[1:] if w.startswith("-") and w.split("=")[0] not in options_of(command)]
    return f"{name}: unknown options {unknown}" if unknown else None


def test_every_command_has_a_docstring_and_an_example_in_its_help() -> None:
    """sqlite-utils' test_docs: a command without a docstring or an example fails here, and
    so does an example that names an unknown command or option."""
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        assert command.help and command.help.strip(), name
        examples = invocations(command.help)
        assert any(words[0] == name for words in examples), f"{name}: no `modelmedic {name} ...` example"
        for words in examples:
            assert check_invocation(list(words)) is None, (name, words)


def test_readme_shows_only_commands_and_options_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = invocations(readme)
    assert len(found) > 20
    problems = [(words, problem) for words in found if (problem := check_invocation(list(words)))]
    assert problems == []
