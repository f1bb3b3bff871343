"""Append-only writers of a run's outputs, which also tell a resumed run what is done."""
