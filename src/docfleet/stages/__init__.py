"""Built-in stages. Each module holds one stage or one family of small stages."""
