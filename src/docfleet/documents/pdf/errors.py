"""Why a document or one of its pages could not be read, with the fix where there is one."""

from __future__ import annotations

from typing import Literal, get_args

DocumentErrorKind = Literal[
    "unreadable",
    "encrypted",
    "empty",
    "not-a-document",
    "decompression-bomb",
    "page-too-large",
    "render-failed",
]
DOCUMENT_ERROR_KINDS: tuple[str, ...] = get_args(DocumentErrorKind)

ENCRYPTED_FIX = "pass its password with --password or `password:` in the config"


class DocumentError(Exception):
    """A document (or one page of it) cannot be turned into pixels or text.

    ``kind`` is a stable machine-readable reason (see ``DOCUMENT_ERROR_KINDS``); ``message`` is
    the human-readable explanation, naming the fix where there is one.

    >>> err = DocumentError("empty", "scan.pdf has no pages")
    >>> err.kind, str(err)
    ('empty', 'scan.pdf has no pages')
    """

    def __init__(self, kind: str, message: str) -> None:
        if kind not in DOCUMENT_ERROR_KINDS:
            raise ValueError(
                f"unknown document error kind {kind!r}; use one of {DOCUMENT_ERROR_KINDS}"
            )
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def error_type(self) -> str:
        """The kind, as the ``type`` of the page's error record."""
        return self.kind

    def __reduce__(self) -> tuple[type[DocumentError], tuple[str, str]]:
        return (DocumentError, (self.kind, self.message))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DocumentError({self.kind!r}, {self.message!r})"


def encrypted_error(path: object, *, wrong_password: bool) -> DocumentError:
    """The error for a PDF that needs a password (none given, or the one given is wrong)."""
    if wrong_password:
        return DocumentError(
            "encrypted",
            f"{path}: the password given does not open this PDF; pass the right one with "
            "--password or `password:` in the config",
        )
    return DocumentError("encrypted", f"{path}: the PDF is password-protected; {ENCRYPTED_FIX}")
