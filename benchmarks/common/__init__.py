"""What the benchmark scripts share; each script imports the modules it needs.

- ``machine``: where a benchmark ran (CPU model, its vector features, cores), the line every
  script prints first and the ``machine`` entry of its figures.
- ``corpora``: where the corpora live, their truth files, page keys.
- ``timing``: timed calls, rates after start-up, a work folder per run.
- ``debian``: Debian packages downloaded and unpacked, the real PDFs' source.
- ``pdfcut``: pages cut out of a PDF, the same bytes on every run.
- ``textfidelity``: text against its truth: normalisation, words F1, line integrity, CER.
- ``docfleet_run``: ``docfleet run`` as a subprocess, timed, with its pages and run.json read.
- ``peers``: the tools docfleet is measured against (pdftotext, PDFium, PyMuPDF, pdfminer.six,
  a hand-written RapidOCR loop).
- ``report``: tables as aligned plain text or Markdown, verdicts, the ``--json`` file.
- ``structure_metrics``: tables as HTML and TEDS; body text, fuzzy finding and reading order
  against annotated page elements.
"""
