"""Structured extraction with local language models: placement, loading, generation."""
