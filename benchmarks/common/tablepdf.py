"""Born-digital tables with a known structure: PubTabNet's reference tables set in a PDF by a
real HTML engine (WeasyPrint: real fonts, a text layer, cells that wrap where columns are narrow),
in two styles: ``plain`` (rules above and below the table and under its header, as journals and
LaTeX's booktabs draw them) and ``ruled`` (every cell boxed: a full grid of lines)."""

from __future__ import annotations

from pathlib import Path

STYLES = ("plain", "ruled")
_CSS = {
    "plain": """
        table { border-collapse: collapse; border-top: 1.2pt solid black;
                border-bottom: 1.2pt solid black; }
        thead tr:last-child td { border-bottom: 0.6pt solid black; }
        td { padding: 2pt 6pt; vertical-align: top; }
    """,
    "ruled": """
        table { border-collapse: collapse; }
        td { border: 0.6pt solid black; padding: 2pt 5pt; vertical-align: top; }
    """,
}
_PAGE = """
    @page {{ size: A4; margin: 2cm; }}
    body {{ font-family: 'DejaVu Serif', serif; font-size: {size}pt; }}
    table {{ max-width: 100%; }}
"""
SIZES = (8.5, 7.0, 6.0)  # points: the first at which the table fits on one page


def table_pdf(reference_html: str, style: str, path: Path) -> Path:
    """Write ``reference_html`` (a ``<table>`` in ``<html><body>``) as a one-page PDF in
    ``style`` to ``path``, in the largest of :data:`SIZES` that fits; WeasyPrint is imported
    here (a benchmark-only dependency)."""
    from weasyprint import CSS, HTML

    for size in SIZES:
        css = CSS(string=_PAGE.format(size=size) + _CSS[style])
        document = HTML(string=reference_html).render(stylesheets=[css])
        if len(document.pages) == 1:
            break
    document.write_pdf(path)
    return path
