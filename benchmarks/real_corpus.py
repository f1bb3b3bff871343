"""Real-PDF corpus: pages cut from PDFs that Debian documentation packages ship.

    python benchmarks/real_corpus.py OUT_DIR [--cache DIR]
    python benchmarks/real_corpus.py --tests tests/data/real [--cache DIR]

Downloads the packages in ``PACKAGES`` (``apt-get download NAME=VERSION``, falling back to the
version the package index offers), unpacks them with ``dpkg -x`` into the cache, and writes for
each document in ``SOURCES`` a small PDF ``OUT_DIR/text/<package>--<name>.pdf`` holding up to
four of its pages, chosen by fixed rules (see ``choose_pages``), plus ``OUT_DIR/manifest.json``:
package, version, path in the package, original page numbers, PDF Producer/Creator and the
licence read from the package's copyright file. Every cut page is checked to give the same
``pdftotext`` output as the original page. ``--tests DIR`` re-cuts the single pages that
``DIR/pages.json`` lists (the test fixtures) from the same packages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

sys.path.insert(0, str(Path(__file__).parent))
from common import debian
from common.corpora import DEBIAN_CACHE
from common.debian import open_pdf, version_of
from common.machine import print_machine
from common.pdfcut import cut
from common.textfidelity import pdftotext_page

DEFAULT_CACHE = DEBIAN_CACHE
PAGES_PER_DOC = 4
MIN_BODY_CHARS = 300  # a body page with fewer characters (a figure, a blank verso) is skipped

# Debian 12 (bookworm) versions; every package is well under 60 MB
PACKAGES = {
    "asymptote-doc": "2.85+ds-1",
    "auto-multiple-choice-doc-pdf": "1.6.0-1",
    "camlidl-doc": "1.04-5",
    "dblatex-doc": "0.3.12py3-2",
    "debian-policy": "4.6.2.0",
    "debian-reference-en": "2.100",
    "developers-reference": "12.18",
    "docbook-xsl-doc-pdf": "1.79.1-1",
    "fonts-sil-charis": "6.101-1",
    "glpk-doc": "5.0-1",
    "gnuplot-doc": "5.4.4+dfsg1-2",
    "groff": "1.22.4-10",
    "groff-base": "1.22.4-10",  # only for groff's copyright file
    "maxima-doc": "5.46.0-11",
    "octave-doc": "7.3.0-2",
    "python-reportlab-doc": "3.6.12-1+deb12u1",
    "r-cran-lme4": "1.1-31-1",
    "r-cran-rcpp": "1.0.10-1",
    "r-cran-survival": "3.5-3-1",
    "r-cran-zoo": "1.8-11-1",
    "r-doc-pdf": "4.2.2.20221110-2",
    "ruby-prawn-doc": "2.4.0+dfsg-1~",
    "siscone-doc-pdf": "3.0.5-2",
    "texlive-fonts-recommended-doc": "2022.20230122-3",
    "texlive-latex-recommended-doc": "2022.20230122-3",
    "ubuntu-packaging-guide-pdf": "1.0.4",
    "why3-doc-pdf": "1.5.1-1",
}


@dataclass(frozen=True)
class Source:
    """One PDF in one package; ``path`` may end in ``.pdf.gz``."""

    package: str
    path: str
    family: str  # how it was made, for the per-producer figures
    files: str = "*"  # the machine-readable copyright stanza whose License applies
    copyright_package: str = ""  # where the copyright file is, when not in ``package``


TL_DOC = "usr/share/doc/texlive-doc/"
TL = TL_DOC + "latex/"
R_LIB = "usr/lib/R/site-library/"
# fmt: off
SOURCES = (
    Source("asymptote-doc", "usr/share/doc/asymptote/asymptote.pdf", "Texinfo"),
    Source("auto-multiple-choice-doc-pdf",
           "usr/share/doc/auto-multiple-choice/auto-multiple-choice.en.pdf",
           "DocBook (dblatex)"),
    Source("camlidl-doc", "usr/share/doc/camlidl/camlidl-1.04.doc.pdf", "LaTeX (old pdfTeX)"),
    Source("dblatex-doc", "usr/share/doc/dblatex/manual.pdf.gz", "DocBook (dblatex)"),
    Source("debian-policy", "usr/share/doc/debian-policy/policy.pdf.gz", "Sphinx"),
    Source("debian-policy", "usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz",
           "DocBook (Apache FOP)", files="fhs-3.0*"),
    Source("debian-reference-en", "usr/share/debian-reference/debian-reference.en.pdf",
           "DocBook (dblatex)"),
    Source("developers-reference", "usr/share/developers-reference/developers-reference.pdf",
           "Sphinx"),
    Source("docbook-xsl-doc-pdf", "usr/share/doc/docbook-xsl-doc-pdf/doc/reference.pdf.gz",
           "DocBook (dblatex)"),
    Source("fonts-sil-charis", "usr/share/doc/fonts-sil-charis/documentation/pdf/features.pdf.gz",
           "cairo"),
    Source("glpk-doc", "usr/share/doc/glpk-doc/glpk.pdf", "LaTeX (dvipdfmx)",
           files="doc/glpk.tex"),
    Source("gnuplot-doc", "usr/share/doc/gnuplot/gnuplot.pdf", "LaTeX (pdfTeX)"),
    Source("groff", "usr/share/doc/groff-base/examples/mom/sample_docs.pdf.gz", "groff (gropdf)",
           copyright_package="groff-base"),
    Source("maxima-doc", "usr/share/doc/maxima-doc/maximabook-19-Sept-2004.pdf.gz",
           "LaTeX (old pdfTeX)"),
    Source("octave-doc", "usr/share/doc/octave/octave.pdf", "Texinfo"),
    Source("octave-doc", "usr/share/doc/octave/refcard-a4.pdf", "TeX (plain)"),
    Source("python-reportlab-doc", "usr/share/doc/python-reportlab-doc/reportlab-userguide.pdf",
           "ReportLab"),
    Source("r-cran-lme4", R_LIB + "lme4/doc/lmer.pdf", "LaTeX (Ghostscript)"),
    Source("r-cran-rcpp", R_LIB + "Rcpp/doc/Rcpp-introduction.pdf", "LaTeX (Ghostscript)"),
    Source("r-cran-rcpp", R_LIB + "Rcpp/doc/Rcpp-FAQ.pdf", "LaTeX (Ghostscript)"),
    Source("r-cran-survival", "usr/lib/R/library/survival/doc/survival.pdf", "LaTeX (pdfTeX)"),
    Source("r-cran-zoo", R_LIB + "zoo/doc/zoo.pdf", "LaTeX (Ghostscript)"),
    Source("r-doc-pdf", "usr/share/doc/r-doc-pdf/manual/R-intro.pdf", "Texinfo"),
    Source("r-doc-pdf", "usr/share/doc/r-doc-pdf/manual/R-lang.pdf", "Texinfo"),
    Source("r-doc-pdf", "usr/share/doc/r-doc-pdf/manual/refman.pdf", "LaTeX (pdfTeX)"),
    Source("ruby-prawn-doc", "usr/share/doc/ruby-prawn/manual.pdf.gz", "Prawn"),
    Source("siscone-doc-pdf", "usr/share/doc/siscone-doc-pdf/pdf/refman.pdf.gz",
           "Doxygen (Ghostscript)"),
    Source("texlive-fonts-recommended-doc", TL_DOC + "fonts/txfonts/txfontsdoc.pdf",
           "LaTeX (dvips, Distiller)"),
    Source("texlive-latex-recommended-doc", TL + "beamer/beamerexample-conference-talk.pdf",
           "LaTeX beamer"),
    Source("texlive-latex-recommended-doc", TL + "beamer/beameruserguide.pdf", "LaTeX (pdfTeX)"),
    Source("texlive-latex-recommended-doc", TL + "booktabs/booktabs.pdf", "LaTeX (pdfTeX)"),
    Source("texlive-latex-recommended-doc", TL + "caption/caption.pdf", "LaTeX (pdfTeX)"),
    Source("texlive-latex-recommended-doc", TL + "listings/listings.pdf", "LaTeX (pdfTeX)"),
    Source("texlive-latex-recommended-doc", TL + "mdwtools/mdwtab.pdf", "LaTeX (dvips, Distiller)"),
    Source("texlive-latex-recommended-doc", TL + "memoir/memman.pdf", "LaTeX (pdfTeX)"),
    Source("texlive-latex-recommended-doc", TL + "polyglossia/polyglossia.pdf", "XeLaTeX"),
    Source("ubuntu-packaging-guide-pdf",
           "usr/share/doc/ubuntu-packaging-guide-pdf/ubuntu-packaging-guide.pdf.gz",
           "Sphinx"),
    Source("why3-doc-pdf", "usr/share/doc/why3-doc-pdf/manual.pdf", "Sphinx"),
)
# fmt: on

# a table-of-contents line has dot leaders (pdftotext may put its page number on another line)
_TOC_LINE = re.compile(r"(?:\. ?){5,}")
_CONTENTS = re.compile(r"^\s*(?:table of )?contents\s*$", re.IGNORECASE | re.MULTILINE)
_ENDS_IN_NUMBER = re.compile(r"\S\s+\d+\s*$")


def fetch(package: str, cache: Path) -> Path:
    """Unpack ``package`` at its version in ``PACKAGES`` (when the index has it) once."""
    return debian.fetch(package, PACKAGES[package], cache)


def read_licence(root: Path, source: Source, cache: Path) -> tuple[str, str]:
    """(licence, where it was read) from the package's copyright data.

    TeX Live lists a licence per TeX package in ``Licenses.gz``; machine-readable copyright
    files give it in the stanza whose ``Files`` holds ``source.files``; older free-form files
    in their first ``License:`` line, else the GNU or BSD licence their text names first.
    """
    owner = source.copyright_package or source.package
    base = fetch(owner, cache) if owner != source.package else root
    doc = base / "usr/share/doc" / owner
    licences = doc / "Licenses.gz"
    if licences.exists():
        folder = source.path.split("texlive-doc/", 1)[1].rsplit("/", 1)[0]
        name = ""
        for line in gzip.decompress(licences.read_bytes()).decode().splitlines():
            if ":" in line and not line.startswith("texmf"):
                name = line
            elif line.strip() == f"texmf-dist/doc/{folder}/*":
                return name.split(":", 1)[1].strip(), f"{doc.name}/Licenses.gz: {name}"
        raise LookupError(f"no licence for texmf-dist/doc/{folder} in {licences}")
    text = (doc / "copyright").read_text(errors="replace")
    where = f"{owner}/copyright"
    if text.startswith("Format:"):
        for stanza in re.split(r"\n\s*\n", text):
            files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", stanza, re.MULTILINE)
            if files and source.files in files.group(1).split():
                licence = re.search(r"^License:[ \t]*(\S.*)$", stanza, re.MULTILINE)
                if licence:
                    return licence.group(1).strip(), f"{where}: Files: {source.files}"
    first = re.search(r"^License:[ \t]*(\S.*)$", text, re.MULTILINE)
    if first:
        return first.group(1).strip(), f"{where}: {first.group(0)}"
    found = []  # the licence named first in the text is the document's own
    gnu = re.search(
        r"GNU General Public License[^.]*?version (\d)(?:.{0,80}?(any later))?"
        r"|\bGPL v(\d)",
        text,
        re.DOTALL,
    )
    if gnu:
        licence = f"GPL-{gnu.group(1) or gnu.group(3)}" + ("+" if gnu.group(2) else "")
        found.append((gnu.start(), licence, " ".join(gnu.group(0).split())))
    bsd = re.search(r"Redistribution and use in source and binary forms", text)
    if bsd:
        found.append((bsd.start(), "BSD", bsd.group(0)))
    if found:
        _, licence, evidence = min(found)
        return licence, f"{where}: {evidence}"
    raise LookupError(f"no licence found in {doc / 'copyright'}")


def toc_page(path: Path, count: int) -> int | None:
    """The first of pages 2-15 that looks like a table of contents, if any."""
    for number in range(2, min(count, 15) + 1):
        lines = pdftotext_page(path, number).splitlines()
        if sum(bool(_TOC_LINE.search(line)) for line in lines) >= 5:
            return number
        heading = _CONTENTS.search("\n".join(lines[:8]))
        if heading and sum(bool(_ENDS_IN_NUMBER.search(line)) for line in lines) >= 5:
            return number
    return None


def choose_pages(
    path: Path, document: pdfium.PdfDocument, per_doc: int = PAGES_PER_DOC
) -> list[int]:
    """Page 1, a table-of-contents page if any, then evenly spaced body pages (1-based).

    A body page with under ``MIN_BODY_CHARS`` characters moves on to the next page (at most
    five times), so a figure-only page or an empty verso is not chosen.
    """
    count = len(document)
    if count <= per_doc:
        return list(range(1, count + 1))
    chosen = [1]
    toc = toc_page(path, count)
    if toc:
        chosen.append(toc)
    slots = per_doc - len(chosen)
    start = max(chosen)
    for i in range(1, slots + 1):
        number = start + round(i * (count - start) / (slots + 1))
        for _ in range(5):
            page = document[number - 1]
            chars = page.get_textpage().count_chars()
            page.close()
            if chars >= MIN_BODY_CHARS and number not in chosen:
                break
            number = min(count, number + 1)
        if number not in chosen:
            chosen.append(number)
    return sorted(chosen)


def metadata(path: Path) -> dict[str, str]:
    document = pdfium.PdfDocument(path)
    meta = document.get_metadata_dict()
    document.close()
    return {
        "producer": meta.get("Producer", "").strip(),
        "creator": meta.get("Creator", "").strip(),
    }


def output_name(source: Source) -> str:
    name = Path(source.path).name.removesuffix(".gz").removesuffix(".pdf")
    return f"{source.package}--{name}.pdf"


def build(out: Path, cache: Path = DEFAULT_CACHE) -> dict[str, Any]:
    """Cut every document of ``SOURCES`` into ``out/text`` and write ``out/manifest.json``."""
    files = []
    for source in SOURCES:
        root = fetch(source.package, cache)
        pdf = open_pdf(root, source.path)
        document = pdfium.PdfDocument(pdf)
        pages = choose_pages(pdf, document)
        count = len(document)
        document.close()
        name = output_name(source)
        same_text = cut(pdf, pages, out / "text" / name)
        if not same_text:
            print(f"warning: pdftotext differs after cutting {name}", file=sys.stderr)
        licence, licence_source = read_licence(root, source, cache)
        files.append(
            {
                "file": name,
                **asdict(source),
                "version": version_of(root),
                "pages": pages,
                "page_count": count,
                **metadata(pdf),
                "licence": licence,
                "licence_source": licence_source,
                "same_pdftotext": same_text,
            }
        )
        print(f"{name}: pages {pages} of {count}", file=sys.stderr)
    manifest = {
        "distribution": "Debian 12 (bookworm)",
        "documents": len(files),
        "pages": sum(len(f["pages"]) for f in files),
        "pages_per_doc": PAGES_PER_DOC,
        "files": files,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load(root: Path, cache: Path = DEFAULT_CACHE) -> tuple[dict[str, Any], bool]:
    """The manifest of the corpus in ``root``, built there first when it has none; and whether
    it was there already."""
    path = root / "manifest.json"
    if path.exists():
        return json.loads(path.read_text()), True
    print(f"building the real corpus into {root} ...", file=sys.stderr, flush=True)
    return build(root, cache), False


def cut_tests(folder: Path, cache: Path = DEFAULT_CACHE) -> None:
    """Re-cut the single pages listed in ``folder/pages.json`` from their packages."""
    for entry in json.loads((folder / "pages.json").read_text()):
        root = fetch(entry["package"], cache)
        if version_of(root) != entry["version"]:
            print(
                f"note: {entry['file']} from {entry['package']} {version_of(root)}, "
                f"pages.json says {entry['version']}",
                file=sys.stderr,
            )
        pdf = open_pdf(root, entry["source_path"])
        if not cut(pdf, [entry["page"]], folder / entry["file"]):
            print(f"warning: pdftotext differs after cutting {entry['file']}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", help="corpus folder to write")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="downloaded packages")
    parser.add_argument("--tests", metavar="DIR", help="re-cut the pages DIR/pages.json lists")
    args = parser.parse_args()
    if not args.tests and not args.out:
        parser.error("give OUT_DIR or --tests DIR")
    print_machine()
    if args.tests:
        cut_tests(Path(args.tests), Path(args.cache))
    else:
        manifest = build(Path(args.out), Path(args.cache))
        print(f"{manifest['documents']} documents, {manifest['pages']} pages in {args.out}")


if __name__ == "__main__":
    main()
