"""The extraction stage as ``docfleet extract`` runs it: its errors name the command's flags."""

from __future__ import annotations

from docfleet.stages.extract import ExtractStage


class CommandExtractStage(ExtractStage):
    """:class:`~docfleet.stages.extract.ExtractStage`, whose errors name ``--max-new-tokens``
    (the flag a user of the command changes) rather than the Python parameter."""

    limit_name = "--max-new-tokens"
