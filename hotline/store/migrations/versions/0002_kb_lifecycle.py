"""knowledge base lifecycle: versions with review states, releases

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('kb_versions',
    sa.Column('id', _BigId, autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('entry_id', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by', sa.String(length=200), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=200), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retired_by', sa.String(length=200), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'entry_id', 'version', name='kb_versions_entry_version')
    )
    with op.batch_alter_table('kb_versions', schema=None) as batch_op:
        batch_op.create_index('kb_versions_state', ['state'], unique=False)

    op.create_table('kb_releases',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('parent', sa.Integer(), nullable=True),
    sa.Column('rollback_of', sa.Integer(), nullable=True),
    sa.Column('entries', sa.JSON(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('build_id', sa.String(length=64), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('kb_releases')
    with op.batch_alter_table('kb_versions', schema=None) as batch_op:
        batch_op.drop_index('kb_versions_state')

    op.drop_table('kb_versions')
