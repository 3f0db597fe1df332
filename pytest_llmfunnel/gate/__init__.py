"""The regression gate: baseline files, pairing, the decision and its statistics."""
