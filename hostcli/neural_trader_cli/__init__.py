"""The ``neural-trader`` (alias ``nt``) command line: generated operation commands plus host commands."""
