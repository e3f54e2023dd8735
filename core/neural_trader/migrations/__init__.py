"""Alembic migrations for the Neural Trader database (SQLite and PostgreSQL alike).

Nothing here is imported by the application: :mod:`neural_trader.services.storage` builds the
Alembic configuration in code, points ``script_location`` at this directory and runs ``env.py``
once per migration branch: the core's revisions are in ``versions/`` (version table
``alembic_version``), each plugin's in its own directory (``alembic_version_<name>``; see
:class:`neural_trader.services.branches.MigrationBranch` and docs/writing-plugins.md).

Adding a table or a column to the core (a plugin's tables belong to the plugin):

1. add or change the model in :mod:`neural_trader.services.tables`;
2. generate the next revision against a database at head, then read and fix what it wrote::

       from alembic import command
       from neural_trader.services.storage import Storage
       with Storage("sqlite:////tmp/nt-dev.db") as storage:
           storage.upgrade()
           command.revision(storage.alembic_config(branch="core"), message="...", autogenerate=True,
                            rev_id="0003")

   (``0002`` is taken: it was the backtest runs table, now the backtest plugin's first revision.)
3. keep it portable: plain ``sa`` types, names from the naming convention, and
   ``op.batch_alter_table`` for changes to existing tables (SQLite cannot ``ALTER`` most things;
   env.py turns batch mode on for it). ``tests/services/test_storage.py`` runs every migration up
   and down on both backends and fails if the models and the migrations of a branch disagree.
"""
