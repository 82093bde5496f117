"""orders carry their VAT: amount, rate, treatment, the buyer's VAT ID; lines their VAT

Orders placed before this revision carried no VAT: they keep their totals, with a tax of
zero.

Revision ID: 9e4b2c7a1d05
Revises: b0874bb0bd94
Create Date: 2026-12-01 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e4b2c7a1d05'
down_revision = 'b0874bb0bd94'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_amount', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('tax_rate', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(
            sa.Column('tax_treatment', sa.String(length=16), nullable=False, server_default='domestic')
        )
        batch_op.add_column(sa.Column('buyer_vat_id', sa.String(length=40), nullable=False, server_default=''))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        for column in ('tax_amount', 'tax_rate', 'tax_treatment', 'buyer_vat_id'):
            batch_op.alter_column(column, server_default=None)
        batch_op.drop_constraint(batch_op.f('ck_orders_total_adds_up'), type_='check')
        batch_op.create_check_constraint(
            'total_adds_up', 'total = subtotal + shipping_amount + tax_amount'
        )
        batch_op.create_check_constraint('tax_nonnegative', 'tax_amount >= 0')
        batch_op.create_check_constraint(
            'tax_treatment_known',
            "tax_treatment IN ('domestic', 'eu_distance', 'reverse_charge', 'export')",
        )

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_amount', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.alter_column('tax_amount', server_default=None)
        batch_op.create_check_constraint('tax_nonnegative', 'tax_amount >= 0')


def downgrade():
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_order_lines_tax_nonnegative'), type_='check')
        batch_op.drop_column('tax_amount')

    op.execute("UPDATE orders SET total = subtotal + shipping_amount")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_tax_treatment_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_orders_tax_nonnegative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_orders_total_adds_up'), type_='check')
        batch_op.create_check_constraint('total_adds_up', 'total = subtotal + shipping_amount')
        batch_op.drop_column('buyer_vat_id')
        batch_op.drop_column('tax_treatment')
        batch_op.drop_column('tax_rate')
        batch_op.drop_column('tax_amount')
