"""Sandboxes: strategy and agent code run isolated, bounded and observed (local bubblewrap or rlimits,
and E2B)."""
