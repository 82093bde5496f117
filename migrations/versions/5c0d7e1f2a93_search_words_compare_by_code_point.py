"""search words compare by code point on PostgreSQL (COLLATE "C")

The search matches a word by a prefix range (term >= 'mi3' AND term < 'mi4'), which is
right only when the column orders strings by code point. SQLite always does; PostgreSQL
does under the "C" collation only, whatever collation the database was created with.

Revision ID: 5c0d7e1f2a93
Revises: 5b1e0c7d9a21
Create Date: 2026-12-01 14:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c0d7e1f2a93'
down_revision = '5b1e0c7d9a21'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # Rebuilds the (term, product_id) primary key index in the new order.
    op.alter_column(
        'search_terms',
        'term',
        type_=sa.String(length=64, collation='C'),
        existing_type=sa.String(length=64),
        existing_nullable=False,
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        'search_terms',
        'term',
        type_=sa.String(length=64),
        existing_type=sa.String(length=64, collation='C'),
        existing_nullable=False,
    )
