"""Schema version 1: ``prediction_log``, one row per prediction and its label.

Revision ID: 0001
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``prediction_log`` (and the indexes defined with it)."""
    context.config.attributes["tables"].predictions.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    """Drop ``prediction_log`` and every prediction in it."""
    context.config.attributes["tables"].predictions.drop(op.get_bind(), checkfirst=True)
