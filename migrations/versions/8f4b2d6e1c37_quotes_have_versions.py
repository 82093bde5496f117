"""quotes have versions: staff revise a sent quote behind the same link

Revision ID: 8f4b2d6e1c37
Revises: 7e3a9c41b2d5
Create Date: 2026-12-01 17:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8f4b2d6e1c37'
down_revision = '7e3a9c41b2d5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('revised_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_column('revised_at')
        batch_op.drop_column('version')
