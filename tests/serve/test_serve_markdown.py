"""The service's Markdown to HTML: docfleet's own Markdown rendered, a document's markup never."""

from __future__ import annotations

import re

import pytest

from docfleet.serve.markdown_html import safe_table, to_html

#: What a document's text may hold to get markup or script onto the page.
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "![x](https://tracker.example/pixel.png)",
    '<iframe src="https://evil.example"></iframe>',
    "<svg onload=alert(1)>",
    "<!-- page 1 --><script>alert(1)</script>",
    "`</code><script>alert(1)</script>`",
    "**<b onmouseover=alert(1)>bold</b>**",
    "<table><tr><td onclick=alert(1) colspan='2 onmouseover=x'>a<script>b</script></td></tr>",
    "<table><tr><td><style>*{}</style><img src=x></td></tr></table>",
    "| <img src=x> | b |\n| --- | --- |\n| <script>c</script> | d |",
    "```\n</pre><script>alert(1)</script>\n```",
    "$$\n</pre><script>alert(1)</script>\n$$",
    "- <script>alert(1)</script>\n- two",
    "> <script>alert(1)</script>",
    "# <script>alert(1)</script>",
]

#: The only elements and attributes the renderer writes.
ALLOWED_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "blockquote", "pre",
                "code", "em", "strong", "table", "thead", "tbody", "tfoot", "tr", "th", "td",
                "caption"}  # fmt: skip
ALLOWED_ATTRIBUTES = {'class="page-mark"', 'class="page-error"', 'class="math"'}


@pytest.mark.parametrize("text", HOSTILE)
def test_a_documents_markup_is_text_on_the_page(text: str) -> None:
    html = to_html(f"# doc.pdf\n\n<!-- page 1 -->\n\n{text}")
    tags = re.findall(r"</?([a-zA-Z][\w-]*)([^>]*)>", html)
    assert {name.lower() for name, _ in tags} <= ALLOWED_TAGS, html
    attributes = {attrs.strip() for _, attrs in tags if attrs.strip()}
    spans = {a for a in attributes if re.fullmatch(r'(?:(?:rowspan|colspan)="\d+"\s*)+', a)}
    starts = {a for a in attributes - spans if re.fullmatch(r'start="\d+"', a)}
    assert attributes - spans - starts <= ALLOWED_ATTRIBUTES, html  # no href, src, on...


def test_docfleets_markdown_is_rendered() -> None:
    markdown = "\n\n".join([
        "# report.pdf", "<!-- page 1 -->", "## Results", "Text with *emphasis*, **strength**,"
        " `code` and \\# an escape.", "- one\n- two\n  goes on", "3. three\n4. four",
        "| a | b \\| c |\n| --- | --- |\n| 1 | 2 |", "```\nx = f(y)\n```", "$$\nE = mc^2\n$$",
        "> a footnote", "<!-- table: pages 3-4 -->",
        '<table><thead><tr><th colspan="2">A &amp; B</th></tr></thead></table>',
        "<!-- page 2 failed: render-failed: report.pdf: page 2 is damaged -->",
    ])  # fmt: skip
    assert to_html(markdown).split("\n") == [
        "<h1>report.pdf</h1>",
        '<p class="page-mark">page 1</p>',
        "<h2>Results</h2>",
        "<p>Text with <em>emphasis</em>, <strong>strength</strong>, <code>code</code> and # an "
        "escape.</p>",
        "<ul><li>one</li><li>two goes on</li></ul>",
        '<ol start="3"><li>three</li><li>four</li></ol>',
        "<table><thead><tr><th>a</th><th>b | c</th></tr></thead><tbody><tr><td>1</td><td>2</td>"
        "</tr></tbody></table>",
        "<pre><code>x = f(y)",
        "</code></pre>",
        '<pre class="math">E = mc^2</pre>',
        "<blockquote><p>a footnote</p></blockquote>",
        "",
        '<table><thead><tr><th colspan="2">A &amp; B</th></tr></thead></table>',
        '<p class="page-error">page 2 failed: render-failed: report.pdf: page 2 is damaged</p>',
    ]


def test_an_html_table_keeps_only_its_cells_and_numeric_spans() -> None:
    table = '<table><tr><td rowspan="3" style="x" colspan="99999">a</td><th>b</table>'
    assert safe_table(table) == '<table><tr><td rowspan="3">a</td><th>b</th></tr></table>'
