"""Alembic environment: runs migrations on the app's own engine (Flask-Migrate provides current_app)."""

import logging

from alembic import context
from flask import current_app

log = logging.getLogger("alembic.env")
config = context.config
db = current_app.extensions["migrate"].db
# Logging is the app's business, so the ini file configures none.
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def skip_empty_autogenerate(_context: object, _revision: object, directives: list) -> None:
    """`flask db migrate` with no model change writes no empty revision."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        log.info("No changes in schema detected.")


def run_offline() -> None:
    """Print the SQL instead of running it (`flask db upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply the migrations in one transaction per revision."""
    options = {"process_revision_directives": skip_empty_autogenerate} | current_app.extensions[
        "migrate"
    ].configure_args
    with db.engine.connect() as connection:
        # Flask-Migrate's options include render_as_batch, which SQLite needs to alter tables.
        context.configure(connection=connection, target_metadata=db.metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
