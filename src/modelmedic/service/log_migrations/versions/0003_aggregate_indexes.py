"""Schema version 3: the ``(column, created_at)`` indexes the live monitoring's aggregates read.

Revision ID: 0003
Revises: 0002
"""

from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the indexes of the counted columns and of the error sums."""
    for index in context.config.attributes["tables"].aggregate_indexes:
        index.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    """Drop those indexes."""
    for index in context.config.attributes["tables"].aggregate_indexes:
        index.drop(op.get_bind(), checkfirst=True)
