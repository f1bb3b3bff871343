"""The scaffold every job shares: records of results, resume, reports and exit codes."""
