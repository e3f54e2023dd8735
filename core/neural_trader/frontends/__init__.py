"""Frontends generated from the operation registry: MCP (``mcp.py``) and REST (``rest.py``).

The click CLI lives in the ``neural_trader_cli`` package (``hostcli/``).
"""
