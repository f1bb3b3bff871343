"""The clip and caption stages on tiny random CLIP, BLIP and LLaVA models (no downloads)."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("transformers")

from docfleet import Device, Fleet
from docfleet.page.types import PageTask, RenderedPage
from docfleet.runtimes.footprint import ModelFilesError
from docfleet.stages.caption import CaptionStage
from docfleet.stages.clip import ClipStage

CPU = Device("cpu")
PROMPTS = {
    "photos": ["a photo of a person", "a portrait"],
    "charts": ["a bar chart", "a line plot of sales by month", "a pie chart"],
    "scans": ["a scanned page of text"],
}


def image(seed: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Noise over a gradient, different for each seed, in the RGB uint8 layout of pages."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width)[None, :, None] * rng.random(3)
    noise = rng.integers(0, 80, (height, width, 3))
    return np.clip(ramp + noise, 0, 255).astype(np.uint8)


def page(n: int, pixels: np.ndarray | None) -> RenderedPage:
    task = PageTask(f"scan{n}.png", "png", 1, 1)
    height, width = pixels.shape[:2] if pixels is not None else (100, 80)
    return RenderedPage(task, width, height, 72.0, image=pixels)


def pages() -> list[RenderedPage]:
    sizes = [(48, 64), (64, 64), (20, 90), (3, 5), (120, 40), (33, 33), (50, 70)]
    return [page(i, image(i, h, w)) for i, (h, w) in enumerate(sizes)]


def loaded(stage_class, **options):
    stage = stage_class(**options)
    stage.load(CPU)
    return stage


def test_stages_pickle_before_load(tiny_clip, tiny_blip):
    for stage in (ClipStage(model=str(tiny_clip), prompts=PROMPTS),
                  CaptionStage(model=str(tiny_blip), prompt="a photo of")):  # fmt: skip
        copy = pickle.loads(pickle.dumps(stage))
        assert type(copy) is type(stage) and copy.options == stage.options
    assert ClipStage.role == CaptionStage.role == "page"


def test_options_reject_unknown_keys_and_bins_without_prompts():
    with pytest.raises(ValueError, match="promt"):
        ClipStage(model="m", promt={})
    with pytest.raises(ValueError, match="'charts' needs at least one prompt"):
        ClipStage(model="m", prompts={"charts": []})


def test_clip_similarity_is_the_best_prompt_cosine(tiny_clip):
    import torch
    from transformers import CLIPModel, CLIPProcessor

    stage = loaded(ClipStage, model=str(tiny_clip), prompts=PROMPTS)
    found = stage(pages())
    model = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(tiny_clip, local_files_only=True)

    def unit(output):
        vector = getattr(output, "pooler_output", output)[0]
        return vector / vector.norm()

    def text(prompt: str):  # each prompt alone: no padding
        return unit(model.get_text_features(**processor.tokenizer(prompt, return_tensors="pt")))

    with torch.no_grad():
        prompts = {bin_: [text(p) for p in texts] for bin_, texts in PROMPTS.items()}
        for result in found:
            rgb = Image.fromarray(result.image)
            vision = unit(model.get_image_features(**processor(images=[rgb], return_tensors="pt")))
            expected = {bin_: max(float(vision @ t) for t in ts) for bin_, ts in prompts.items()}
            assert list(result.clip) == list(PROMPTS)
            assert all(-1.0 <= s <= 1.0 for s in result.clip.values())
            for bin_, similarity in result.clip.items():
                assert similarity == pytest.approx(expected[bin_], abs=1e-5)
    assert len({round(p.clip["charts"], 6) for p in found}) > 1  # images do differ
    assert all(p.seconds["clip"] >= 0 for p in found)


def test_clip_is_deterministic_and_batch_free(tiny_clip):
    first = loaded(ClipStage, model=str(tiny_clip), prompts=PROMPTS, batch_size=3)
    again = loaded(ClipStage, model=str(tiny_clip), prompts=PROMPTS)
    batched = [p.clip for p in first(pages())]
    assert batched == [p.clip for p in first(pages())]
    alone = [again([p])[0].clip for p in pages()]
    for a, b in zip(batched, alone, strict=True):
        assert list(a) == list(b)
        np.testing.assert_allclose(list(a.values()), list(b.values()), atol=1e-5)


def test_clip_pages_without_image_and_no_prompts(tiny_clip):
    stage = loaded(ClipStage, model=str(tiny_clip), prompts=PROMPTS)
    batch = [page(0, None), *pages()[:2], page(3, None)]
    out = stage(batch)
    assert out is batch
    assert [p.clip == {} for p in out] == [True, False, False, True]
    assert "clip" not in out[0].seconds
    bare = loaded(ClipStage, model=str(tiny_clip))
    assert [p.clip for p in bare(pages()[:2])] == [{}, {}]


def test_caption_strings_deterministic_and_batch_free(tiny_blip):
    first = loaded(CaptionStage, model=str(tiny_blip), batch_size=3, max_new_tokens=8)
    again = loaded(CaptionStage, model=str(tiny_blip), max_new_tokens=8)
    batched = [p.caption for p in first([page(9, None), *pages()])]
    assert batched[0] == ""
    assert all(isinstance(c, str) for c in batched[1:])  # random weights: maybe empty
    assert len(set(batched[1:])) > 2  # the captions depend on the images
    assert batched == [p.caption for p in first([page(9, None), *pages()])]
    assert batched[1:] == [again([p])[0].caption for p in pages()]


def test_blip_prompt_begins_the_caption(tiny_blip):
    stage = loaded(CaptionStage, model=str(tiny_blip), prompt="a photo of", max_new_tokens=5)
    captions = [p.caption for p in stage(pages()[:3])]
    assert all(c.startswith("a photo of") for c in captions)


def test_caption_falls_back_to_image_text_to_text_models(tiny_vlm):
    stage = loaded(CaptionStage, model=str(tiny_vlm), max_new_tokens=6, batch_size=2)
    captions = [p.caption for p in stage(pages()[:3])]
    assert all(isinstance(c, str) for c in captions)
    assert captions == [stage([p])[0].caption for p in pages()[:3]]


@pytest.mark.parametrize("stage_class", [ClipStage, CaptionStage])
def test_missing_model_files_are_named(tiny_clip, tmp_path, stage_class):
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelFilesError, match=f"{missing} does not exist"):
        stage_class(model=str(missing)).load(CPU)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFilesError, match=f"{empty} has no config.json"):
        stage_class(model=str(empty)).load(CPU)
    weightless = tmp_path / "weightless"
    weightless.mkdir()
    shutil.copy(tiny_clip / "config.json", weightless)
    with pytest.raises(ModelFilesError, match=f"{weightless} has no \\*.safetensors"):
        stage_class(model=str(weightless)).load(CPU)


def test_wrong_model_types_are_named(tiny_clip, tiny_blip, tmp_path):
    with pytest.raises(ModelFilesError, match="describes a blip model, not a CLIP model"):
        ClipStage(model=str(tiny_blip)).load(CPU)
    with pytest.raises(ModelFilesError, match="describes a clip model, which does not write"):
        CaptionStage(model=str(tiny_clip)).load(CPU)
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelFilesError, match=f"caption stage: {folder}/config.json .* bert"):
        CaptionStage(model=str(folder)).load(CPU)


def test_both_stages_run_in_the_engine(tiny_clip, tiny_blip):
    clip = ClipStage(model=str(tiny_clip), prompts=PROMPTS)
    caption = CaptionStage(model=str(tiny_blip), max_new_tokens=6)
    batch = [*pages(), page(99, None)]
    fleet = Fleet(devices="cpu", workers="thread", batch_size=4, progress=False)
    results = list(fleet.map([clip, caption], batch))
    assert [r.ok for r in results] == [True] * len(batch)
    assert [r.index for r in results] == list(range(len(batch)))
    direct_clip = loaded(ClipStage, **clip.options.model_dump())
    direct_caption = loaded(CaptionStage, **caption.options.model_dump())
    expected = direct_caption(direct_clip(pages()))
    for result, want in zip(results[:-1], expected, strict=True):
        assert result.value.caption == want.caption
        assert result.value.clip == pytest.approx(want.clip, abs=1e-5)
    assert results[-1].value.clip == {} and results[-1].value.caption == ""
