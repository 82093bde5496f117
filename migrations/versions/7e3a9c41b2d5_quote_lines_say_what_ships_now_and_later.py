"""quote lines say what ships now and what later (in stock, backordered, made to order)

Revision ID: 7e3a9c41b2d5
Revises: 5c0d7e1f2a93
Create Date: 2026-12-01 17:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7e3a9c41b2d5'
down_revision = '5c0d7e1f2a93'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('quote_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supply', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('ships_now', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rest_ships_on', sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            'supply_known',
            "supply IS NULL OR supply IN ('in_stock', 'backordered', 'made_to_order')",
        )
        batch_op.create_check_constraint(
            'ships_now_within_quantity',
            'ships_now IS NULL OR (ships_now >= 0 AND ships_now <= quantity)',
        )


def downgrade():
    with op.batch_alter_table('quote_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_quote_lines_ships_now_within_quantity'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_quote_lines_supply_known'), type_='check')
        batch_op.drop_column('rest_ships_on')
        batch_op.drop_column('ships_now')
        batch_op.drop_column('supply')
