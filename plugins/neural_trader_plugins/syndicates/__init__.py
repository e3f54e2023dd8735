"""Syndicates: pooled bankrolls on a unit ledger, governance by weighted votes and profit shares
exact to the cent."""
