"""Shared fixtures. Tests run against real processes and threads; nothing is mocked.

The test folders mirror the package (``tests/engine`` tests ``docfleet.engine``, ...). The helper
modules beside this file (``docs_factory``, ``llm_factory``, ``vision_factory``,
``stages_for_tests``, ``chat_server``) import from every folder: pyproject's ``pythonpath`` puts
this folder on ``sys.path``, which spawned workers inherit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from chat_server import ChatServer, Servers

TESTS = Path(__file__).resolve().parent


class Docfleet:
    """The ``docfleet`` command as a user runs it: ``python -m docfleet ARGS`` in a subprocess."""

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "docfleet", *args]

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run to the end; stdout and stderr captured as text. ``env`` is the whole environment of
        the command, as for ``subprocess.run`` (``None``: this process's)."""
        return subprocess.run(self.argv(*args), capture_output=True, text=True, env=env,
                              timeout=timeout, check=check)  # fmt: skip

    def start(self, *args: str, **popen: Any) -> subprocess.Popen:
        """Start and return at once; ``popen`` goes to ``subprocess.Popen`` as it is."""
        return subprocess.Popen(self.argv(*args), **popen)


@pytest.fixture(scope="session")
def cli() -> Docfleet:
    """``cli("run", str(pdf), "-o", str(out), "--no-progress")`` runs ``docfleet run`` and returns
    the ``CompletedProcess``; ``cli.start(...)`` returns the ``Popen``; ``cli.argv(...)``, the
    command line."""
    return Docfleet()


@pytest.fixture(scope="session")
def real_pdfs() -> Path:
    """The folder of real PDFs (tests/data/real; its README.md says where each came from)."""
    return TESTS / "data" / "real"


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny Llama and its tokenizer (``llm_factory.tiny_causal_lm``), written once. The
    Hugging Face hub is offline from then on (``HF_HUB_OFFLINE=1`` unless set)."""
    pytest.importorskip("transformers")
    from llm_factory import tiny_causal_lm

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return tiny_causal_lm(tmp_path_factory.mktemp("llm") / "tiny")


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny LLaVA and its processor (``llm_factory.tiny_vision_lm``), written once. The
    Hugging Face hub is offline from then on (``HF_HUB_OFFLINE=1`` unless set)."""
    pytest.importorskip("transformers")
    from llm_factory import tiny_vision_lm

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return tiny_vision_lm(tmp_path_factory.mktemp("vlm") / "tiny")


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny CLIP with its tokenizer and image processor (``vision_factory``), written
    once."""
    pytest.importorskip("transformers")
    import vision_factory

    return vision_factory.tiny_clip(tmp_path_factory.mktemp("vision") / "clip")


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny BLIP captioner and its processor (``vision_factory``), written once."""
    pytest.importorskip("transformers")
    import vision_factory

    return vision_factory.tiny_blip(tmp_path_factory.mktemp("vision") / "blip")


@pytest.fixture
def chat_servers() -> Iterator[Callable[..., ChatServer]]:
    """Starts scripted chat-completions servers on loopback (``chat_server``), all closed after
    the test: ``fast, slow = chat_servers(), chat_servers(delay=0.4)``."""
    with Servers() as start:
        yield start
