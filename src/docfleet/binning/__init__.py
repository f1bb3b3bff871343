"""Sorting images into the named bins of a ``bins.yml`` file, by rules on their features."""
