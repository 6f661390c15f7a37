"""Generated README sections: the CLI and API at a glance, the role matrix, the settings.

``python -m spamledger._docs`` rewrites the blocks between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` in README.md; a test fails when the README is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_of(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


def _walk(parser: argparse.ArgumentParser, prefix: str) -> Iterator[tuple[str, str]]:
    for name, sub in _subparsers(parser).items():
        path = f"{prefix} {name}"
        children = _subparsers(sub)
        if children:
            yield from _walk(sub, path)
        else:
            yield path, _help_of(parser, name)


def cli_markdown() -> str:
    """One row per leaf command of ``spamledger``."""
    from spamledger._cli import build_parser

    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| `{path}` | {text} |" for path, text in _walk(build_parser(), "spamledger")]
    return "\n".join(rows)


def api_markdown() -> str:
    """One row per API route, from the FastAPI app itself."""
    from api import create_app
    from spamledger._settings import load_settings

    with tempfile.TemporaryDirectory() as tmp:
        # The app refuses to start without a secret; this one only lists the routes.
        settings = load_settings(overrides={"data_dir": tmp,
                                            "consortium_secret": "x" * 32}, environ={})
        spec = create_app(settings).openapi()
    rows = ["| method | path | summary |", "|---|---|---|"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            rows.append(f"| {method.upper()} | `{path}` | {op.get('summary', '')} |")
    return "\n".join(rows)


def roles_markdown() -> str:
    """The API's role matrix, from the one table the gate enforces."""
    from api import matrix_markdown

    return matrix_markdown()


def console_markdown() -> str:
    """The web console's pages and the roles that may open them."""
    from api._access import console_markdown as table

    return table()


def settings_markdown() -> str:
    from spamledger._settings import settings_markdown as table

    return table()


SECTIONS: dict[str, Callable[[], str]] = {
    "cli": cli_markdown,
    "api": api_markdown,
    "roles": roles_markdown,
    "console": console_markdown,
    "settings": settings_markdown,
}


def _replacement(content: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group(1) + content + "\n" + m.group(2)


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.S)
        if pattern.search(text):
            content = make()
            text = pattern.sub(_replacement(content), text)
    return text


def main() -> int:
    text = README.read_text()
    new = render(text)
    if new != text:
        README.write_text(new)
        print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
