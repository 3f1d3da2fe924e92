"""The `flask --app app pix` command group that every command module adds to."""

from flask.cli import AppGroup

pix_cli = AppGroup("pix", help="PIX checkout tools.")
