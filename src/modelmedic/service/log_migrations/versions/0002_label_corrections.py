"""Schema version 2: ``label_corrections``, every label replaced by a later, different one.

Revision ID: 0002
Revises: 0001
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``label_corrections``."""
    context.config.attributes["tables"].corrections.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    """Drop ``label_corrections``."""
    context.config.attributes["tables"].corrections.drop(op.get_bind(), checkfirst=True)
