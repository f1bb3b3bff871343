"""The service's endpoints, one module per group, each an ``APIRouter`` that ``create_app``
includes: ``health`` (``/healthz``, ``/readyz``, ``/metrics``), ``jobs`` (``/v1/jobs``),
``results`` (a job's Markdown, rendered Markdown, JSON lines and zip) and ``convert``
(``/v1/convert``); the HTML page is ``docfleet.serve.ui``."""
