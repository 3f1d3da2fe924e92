"""`flask --app app pix ...`: the operators' and developers' commands."""

from flask import Flask

from cli import bank, psp, webhooks  # noqa: F401  (importing a command module adds its commands to the group)
from cli.group import pix_cli


def register_commands(app: Flask) -> None:
    """Add the pix command group to `flask`."""
    app.cli.add_command(pix_cli)
