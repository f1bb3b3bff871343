"""The ``docfleet`` command line."""
