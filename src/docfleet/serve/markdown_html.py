"""A document's Markdown as safe HTML for the service's page: nothing from a document reaches
the page as markup.

The Markdown is docfleet's own (``docfleet.page.markdown``): headings, paragraphs, lists,
quotes, code and formula blocks, GitHub tables, HTML tables (spans that a GitHub table cannot
hold) and page comments. Every piece of text is escaped; the only elements written are the ones
this module writes, and of a document's HTML tables only table elements and numeric
``rowspan``/``colspan`` are kept. No links or images are made (an image is named in text), so
no URL from a document reaches the page. No dependency, nothing loaded from elsewhere.

>>> print(to_html("# Report\\n\\n<!-- page 1 -->\\n\\nA *b* <script>alert(1)</script>"))
<h1>Report</h1>
<p class="page-mark">page 1</p>
<p>A <em>b</em> &lt;script&gt;alert(1)&lt;/script&gt;</p>
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^(\d{1,9})[.)]\s+(.*)$")
_PAGE = re.compile(r"^page (\d+)(?: failed: (.*))?$", re.DOTALL)
_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
_INLINE = re.compile(
    r"\\(?P<esc>[\\`*_{}\[\]()#+\-.!|>~$])"  # a backslash escape
    r"|(?P<ticks>`+)(?P<code>.+?)(?P=ticks)"  # inline code
    r"|\*\*(?P<strong>\S(?:.*?\S)?)\*\*"  # **strong**
    r"|\*(?P<em>[^\s*](?:[^*]*?[^\s*])?)\*"  # *emphasis*
    r"|!\[(?P<alt>[^\]]*)\]\([^)]*\)"  # an image: named, never loaded
)


def to_html(markdown: str) -> str:
    """The Markdown as an HTML fragment (see the module docstring)."""
    return "\n".join(_block(block) for block in _blocks(markdown.replace("\r\n", "\n")))


def _blocks(text: str) -> list[str]:
    """The text cut at blank lines, keeping a fenced block (```, $$) or a comment whole."""
    blocks: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        closing = {"```": "```", "$$": "$$"}.get(line.strip()) or (
            "-->" if line.lstrip().startswith("<!--") and "-->" not in line else None)  # fmt: skip
        if closing:
            end = next((j for j in range(i + 1, len(lines)) if closing in lines[j]), len(lines))
            blocks.append("\n".join(lines[i : end + 1]))
            i = end + 1
            continue
        if line.strip():
            if blocks and i and lines[i - 1].strip() and not _fenced(blocks[-1]):
                blocks[-1] += "\n" + line
            else:
                blocks.append(line)
        i += 1
    return blocks


def _fenced(block: str) -> bool:
    head = block.lstrip()
    return head.startswith(("```", "$$")) or (head.startswith("<!--") and "\n" in head)


def _block(block: str) -> str:
    stripped = block.strip()
    if stripped.startswith("<!--"):
        return _comment(stripped.removeprefix("<!--").removesuffix("-->").strip())
    if stripped.startswith("```"):
        body = stripped.removeprefix("```").removesuffix("```").split("\n", 1)
        return f"<pre><code>{escape(body[1] if len(body) > 1 else '')}</code></pre>"
    if stripped.startswith("$$"):
        return f'<pre class="math">{escape(stripped.strip("$").strip())}</pre>'
    if stripped.lower().startswith("<table"):
        return safe_table(stripped)
    lines = stripped.split("\n")
    if (heading := _HEADING.match(lines[0])) and len(lines) == 1:
        level = len(heading.group(1))
        return f"<h{level}>{inline(heading.group(2))}</h{level}>"
    if len(lines) > 1 and lines[0].startswith("|") and _RULE.match(lines[1].strip()):
        return _pipe_table(lines)
    if _BULLET.match(lines[0]) or _NUMBER.match(lines[0]):
        return _list(lines)
    if lines[0].startswith(">"):
        quoted = " ".join(line.removeprefix(">").strip() for line in lines)
        return f"<blockquote><p>{inline(quoted)}</p></blockquote>"
    return f"<p>{inline(' '.join(line.strip() for line in lines))}</p>"


def _comment(text: str) -> str:
    page = _PAGE.match(text)
    if page is None:
        return ""  # other notes (a table's pages) are not shown
    if page.group(2):
        return f'<p class="page-error">page {page.group(1)} failed: {escape(page.group(2))}</p>'
    return f'<p class="page-mark">page {page.group(1)}</p>'


def _list(lines: list[str]) -> str:
    """A list; a line without a marker goes on the item before it."""
    items: list[str] = []
    number = _NUMBER.match(lines[0])
    for line in lines:
        marker = _NUMBER.match(line) if number else _BULLET.match(line)
        if marker or not items:
            items.append(marker.groups()[-1] if marker else line)
        else:
            items[-1] += " " + line.strip()
    body = "".join(f"<li>{inline(item)}</li>" for item in items)
    if number:
        start = int(number.group(1))
        return f'<ol start="{start}">{body}</ol>' if start != 1 else f"<ol>{body}</ol>"
    return f"<ul>{body}</ul>"


def _pipe_table(lines: list[str]) -> str:
    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip().removeprefix("|").removesuffix("|"))
        return [p.strip().replace("\\|", "|") for p in parts]

    head = "".join(f"<th>{inline(c)}</th>" for c in cells(lines[0]))
    rows = "".join(
        "<tr>" + "".join(f"<td>{inline(c)}</td>" for c in cells(line)) + "</tr>"
        for line in lines[2:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def inline(text: str) -> str:
    """Inline Markdown (escapes, code, strong, emphasis, image names) as escaped HTML.

    >>> inline("a \\\\*b\\\\* `<i>` **c *d* e** ![formula](x.png) [e](javascript:f)")
    'a *b* <code>&lt;i&gt;</code> <strong>c <em>d</em> e</strong> [formula] [e](javascript:f)'
    """
    out: list[str] = []
    at = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[at : match.start()]))
        at = match.end()
        if match.group("esc") is not None:
            out.append(escape(match.group("esc")))
        elif match.group("code") is not None:
            out.append(f"<code>{escape(match.group('code'))}</code>")
        elif match.group("strong") is not None:
            out.append(f"<strong>{inline(match.group('strong'))}</strong>")
        elif match.group("em") is not None:
            out.append(f"<em>{inline(match.group('em'))}</em>")
        else:
            out.append(f"[{escape(match.group('alt') or 'image')}]")
    out.append(escape(text[at:]))
    return "".join(out)


def safe_table(markup: str) -> str:
    """An HTML table rebuilt from its table elements and text alone: other elements are left
    out (``script`` and ``style`` with their content), attributes other than numeric spans
    dropped, text escaped.

    >>> safe_table('<table><tr><td colspan="2" onclick="x()">a<b>&lt;</b></td></tr></table>')
    '<table><tr><td colspan="2">a&lt;</td></tr></table>'
    """
    parser = _TableParser()
    parser.feed(markup)
    parser.close()
    return parser.result()


class _TableParser(HTMLParser):
    TAGS = frozenset(("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption"))
    SKIP = frozenset(("script", "style", "template", "textarea", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.TAGS and not self.skipping:
            spans = "".join(
                f' {name}="{int(value)}"' for name, value in attrs
                if name in ("rowspan", "colspan") and value and value.isdigit()
                and 0 < int(value) <= 1000
            )  # fmt: skip
            self.out.append(f"<{tag}{spans}>")
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.TAGS and tag in self.open and not self.skipping:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.append(escape(data, quote=False))

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))
