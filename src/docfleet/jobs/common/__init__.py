"""The scaffold every job shares: records of results, resume, reports with their exit codes,
and the engine options a job's settings give."""
