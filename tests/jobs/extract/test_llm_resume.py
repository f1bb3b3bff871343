"""Resuming `docfleet extract`: a cut-short output is completed, never duplicated or stale."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from docfleet.io.outdir import OutputError
from docfleet.jobs.common.resume import ResumeError
from docfleet.jobs.extract.job import ExtractConfig, run_extract

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def notes(path: Path, count: int, *, broken: int | None = None) -> Path:
    rows = ["id,note"]
    for i in range(count):
        rows.append(f'n{i},"broken' if i == broken else f"n{i},invoice {i} paid by customer {i}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def config(model: Path, data: Path, out: Path, **extra) -> ExtractConfig:
    settings = {"model": str(model), "input": str(data), "output": str(out), "id_column": "id",
                "prompt": "Who paid? {note}", "max_new_tokens": 4, "max_repairs": 0,
                "devices": "cpu", "workers": "thread", "progress": False}  # fmt: skip
    return ExtractConfig(**{**settings, **extra})


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_cut_short_output_is_completed_in_input_order(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 8, broken=6)
    full = run_extract(config(tiny_llm, data, tmp_path / "full.jsonl"))
    assert (full.items, full.kept) == (8, 0)  # the broken quote swallows no row
    assert full.input_lines == 8  # eight data lines became eight records
    whole = (tmp_path / "full.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(whole[:3]) + whole[3][:25], encoding="utf-8")  # killed mid-line
    resumed = run_extract(config(tiny_llm, data, cut))
    assert (resumed.items, resumed.kept, resumed.failed) == (8, 3, full.failed)
    strip = ("seconds", "device")
    assert [{k: v for k, v in line.items() if k not in strip} for line in lines(cut)] == [
        {k: v for k, v in line.items() if k not in strip} for line in lines(tmp_path / "full.jsonl")
    ]
    again = run_extract(config(tiny_llm, data, cut))  # nothing left to do
    assert (again.items, again.kept) == (8, 8) and len(lines(cut)) == 8


def test_retry_failed_redoes_the_error_lines_and_restores_input_order(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 7)
    out = tmp_path / "out.jsonl"
    run_extract(config(tiny_llm, data, out, answer_format="text"))
    first = lines(out)
    assert all(line["status"] == "ok" for line in first)
    hit = []  # two records failed the first time, e.g. out of memory on a busy GPU
    for number in (1, 4):
        hit.append(first[number])
        oom = {"type": "OutOfMemory", "message": "CUDA out of memory"}
        first[number] = {**first[number], "status": "error", "answer": None, "error": oom}
    out.write_text("".join(json.dumps(line) + "\n" for line in first), encoding="utf-8")
    kept = run_extract(config(tiny_llm, data, out, answer_format="text"))
    assert (kept.kept, kept.failed) == (7, 2)  # a plain resume keeps error lines
    retried = run_extract(config(tiny_llm, data, out, answer_format="text", retry_failed=True))
    assert (retried.items, retried.kept, retried.failed) == (7, 5, 0)
    after = lines(out)
    assert [line["id"] for line in after] == [f"n{i}" for i in range(7)]
    assert [after[1]["answer"], after[4]["answer"]] == [hit[0]["answer"], hit[1]["answer"]]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_limited_trial_run_is_kept_and_the_full_run_does_the_rest(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 9)
    out = tmp_path / "out.jsonl"
    trial = run_extract(config(tiny_llm, data, out, limit=4))
    assert (trial.items, [line["id"] for line in lines(out)]) == (4, ["n0", "n1", "n2", "n3"])
    full = run_extract(config(tiny_llm, data, out))
    assert (full.items, full.kept) == (9, 4)
    assert [line["id"] for line in lines(out)] == [f"n{i}" for i in range(9)]


def test_other_settings_stop_a_resume_and_no_resume_starts_over(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 3)
    out = tmp_path / "out.jsonl"
    run_extract(config(tiny_llm, data, out))
    before = run_extract(config(tiny_llm, data, out)).kept_tokens_out
    assert before > 0  # a resume that did nothing: every token was kept, none generated
    with pytest.raises(ResumeError, match=r"other settings.*--no-resume") as info:
        run_extract(config(tiny_llm, data, out, max_new_tokens=5))
    assert "max_new_tokens 4 -> 5" in str(info.value)
    report = run_extract(config(tiny_llm, data, out, max_new_tokens=5, resume=False))
    assert (report.items, report.kept) == (3, 0) and len(lines(out)) == 3
    assert len({line["settings"] for line in lines(out)}) == 1


def test_a_changed_prompt_is_refused_showing_where_the_prompts_part(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 2)
    out = tmp_path / "out.jsonl"
    intro = "You read short notes about invoices and who paid them, one at a time.\n"
    run_extract(config(tiny_llm, data, out, prompt=intro + "Who paid? {note}"))
    with pytest.raises(ResumeError) as info:
        run_extract(config(tiny_llm, data, out, prompt=intro + "Who paid, and when? {note}"))
    said = str(info.value)  # both prompts share 80 characters: the message starts where they part
    assert 'turn 1 differs at line 2, column 9: "' in said
    assert 'one at a time.\\nWho paid? {note}"' in said
    assert 'one at a time.\\nWho paid, and when? {note}"' in said


def test_a_killed_extraction_resumes_with_every_record_once(cli, tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 300)
    out = tmp_path / "out.jsonl"
    args = ["extract", "--model", str(tiny_llm), "--input", str(data), "--id-column", "id",
            "--prompt", "Who paid? {note}", "--max-new-tokens", "8", "--devices", "cpu",
            "--batch-size", "4", "--no-progress", "-o", str(out)]  # fmt: skip
    proc = cli.start(*args, env=OFFLINE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text(encoding="utf-8").count("\n") >= 8:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = out.read_text(encoding="utf-8").count("\n")
    assert 8 <= written < 300
    done = cli(*args, env=OFFLINE)
    assert done.returncode in (0, 1), done.stderr
    assert "kept from before" in done.stderr
    assert [line["id"] for line in lines(out)] == [f"n{i}" for i in range(300)]


def test_an_output_file_in_use_by_another_process_is_refused(tiny_llm, tmp_path):
    data = notes(tmp_path / "notes.csv", 2)
    out = tmp_path / "out.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from docfleet.io.outdir import OutputLock; "
         "lock = OutputLock.for_file(Path(sys.argv[1]), command='holder').__enter__(); "
         "print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputError, match=rf"in use by pid {holder.pid} .*\(holder\)"):
            run_extract(config(tiny_llm, data, out))
        assert not out.exists()
    finally:
        holder.kill()
        holder.communicate()
    assert run_extract(config(tiny_llm, data, out)).items == 2  # the lock went with the process
