"""Alembic migrations for the Neural Trader database (SQLite and PostgreSQL alike).

Nothing here is imported by the application: :mod:`neural_trader.services.storage` builds the
Alembic configuration in code, points ``script_location`` at this directory and runs ``env.py``.

Adding a table or a column (say, for orders):

1. add or change the model in :mod:`neural_trader.services.tables`;
2. generate the next revision against a database at head, then read and fix what it wrote::

       from alembic import command
       from neural_trader.services.storage import Storage
       with Storage("sqlite:////tmp/nt-dev.db") as storage:
           storage.upgrade()
           command.revision(storage.alembic_config(), message="orders", autogenerate=True,
                            rev_id="0002")

3. keep it portable: plain ``sa`` types, names from the naming convention, and
   ``op.batch_alter_table`` for changes to existing tables (SQLite cannot ``ALTER`` most things;
   env.py turns batch mode on for it). ``tests/services/test_storage.py`` runs every migration up
   and down on both backends and fails if the models and the migrations disagree.
"""
