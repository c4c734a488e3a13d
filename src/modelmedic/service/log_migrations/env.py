"""Alembic's environment of the prediction log: the migrations run on the caller's connection,
inside its transaction (see :mod:`modelmedic.service.log_migrations`)."""

from alembic import context

from modelmedic.service.log_migrations import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
