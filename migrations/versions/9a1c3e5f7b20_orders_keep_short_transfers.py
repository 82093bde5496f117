"""orders keep a short bank transfer and the shortfall staff accepted

Revision ID: 9a1c3e5f7b20
Revises: 8f4b2d6e1c37
Create Date: 2026-12-01 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9a1c3e5f7b20'
down_revision = '8f4b2d6e1c37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('transfer_received', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(
            sa.Column('shortfall_accepted', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.create_check_constraint(
            'shortfall_within_total',
            'shortfall_accepted >= 0 AND amount_paid + shortfall_accepted <= total',
        )
        batch_op.create_check_constraint(
            'transfer_within_total', 'transfer_received >= 0 AND transfer_received <= total'
        )


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_transfer_within_total'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_orders_shortfall_within_total'), type_='check')
        batch_op.drop_column('shortfall_accepted')
        batch_op.drop_column('transfer_received')
