"""Square images of several sizes at one pixel scale: the model resizes them all by one factor,
trains on batches of one size and predicts any size (deepcee.detector.model.FixedScaleTransform)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from astropy.table import Table, vstack

from deepcee.core.contracts import read_table, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.detector import training
from deepcee.detector.dataset import (
    Sample,
    StepBatchSampler,
    check_samples,
    labels_output_size,
    read_samples,
    write_synthetic_pngs,
    write_synthetic_set,
)
from deepcee.detector.inference import load_model, predict_images, predict_labels, size_batches
from deepcee.detector.model import build_detector
from deepcee.detector.training import read_losses, train


@pytest.fixture
def one_thread():
    """One intra-op thread: the same code path on the same input is then bit-identical."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model(network=320, reference=500):
    torch.manual_seed(0)
    return build_detector({"image_size": network, "weights": "none"}, reference, load_weights=False)


def _torchvision_transform(model):
    """The transform build_detector used before: torchvision's, min_size = max_size = network side."""
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    t = model.transform
    return GeneralizedRCNNTransform(t.min_size[-1], t.max_size, t.image_mean, t.image_std)


# --------------------------------------------------------------------------- the transform


def test_fixed_scale_500_to_320_and_350_to_224_with_boxes_mapped_back():
    model = _model()
    t = model.transform
    assert t.min_size == (320,) and t.max_size == 320 and t.reference_size == 500  # readers of min_size
    assert model.deepcee_image_size == 320 and model.deepcee_reference_size == 500
    t.eval()
    g = torch.Generator().manual_seed(0)
    for side, net in ((500, 320), (350, 224)):
        images, _ = t([torch.rand(3, side, side, generator=g)])
        assert images.image_sizes == [(net, net)]
        assert tuple(images.tensors.shape[-2:]) == (net, net)  # 320 and 224 are multiples of 32: no padding
    # training targets are scaled by 0.64 into the network's pixels ...
    t.train()
    box = torch.tensor([[35.0, 70.0, 175.0, 350.0]])
    images, targets = t([torch.rand(3, 350, 350, generator=g)], [{"boxes": box.clone(), "labels": torch.tensor([1])}])
    assert images.image_sizes == [(224, 224)]
    assert torch.allclose(targets[0]["boxes"], box * 0.64)
    # ... and predicted boxes back into the input's own pixels
    t.eval()
    back = t.postprocess([{"boxes": box * 0.64}], [(224, 224)], [(350, 350)])
    assert torch.allclose(back[0]["boxes"], box)
    # torchvision's own transform would stretch a 350 px image to 320 px (another pixel scale)
    old = _torchvision_transform(model).eval()
    assert old([torch.rand(3, 350, 350)])[0].image_sizes == [(320, 320)]


def test_a_padded_side_is_padded_with_the_images_own_sky_level():
    """350 px at a 256 px network side: 179 px, padded to 192. The pad holds each band's median
    (a flat sky), not torchvision's 0 (ImageNet's mean grey after normalisation)."""
    t = _model(network=256).transform.eval()
    g = torch.Generator().manual_seed(2)
    image = 0.05 + 0.02 * torch.rand(3, 350, 350, generator=g)  # a dark sky, as the stretch gives
    batch = t([image])[0]
    assert batch.image_sizes == [(179, 179)]
    tensors = batch.tensors[0]
    assert tuple(tensors.shape[-2:]) == (192, 192)
    inside = tensors[:, :179, :179]
    median = inside.flatten(1).median(dim=1).values
    for band in range(3):
        assert torch.all(tensors[band, 179:, :] == median[band])
        assert torch.all(tensors[band, :179, 179:] == median[band])
    assert torch.all(median < -1.0)  # normalised dark sky: far below the grey 0 torchvision pads with
    # an unpadded batch is torchvision's, untouched
    exact = t([torch.rand(3, 375, 375, generator=g)])[0]
    assert exact.image_sizes == [(192, 192)] and tuple(exact.tensors.shape[-2:]) == (192, 192)


def test_fixed_scale_is_torchvisions_transform_bit_for_bit_at_the_reference_side(one_thread):
    """Same model, same seed, same 500 px input: identical tensors, detections and losses with the
    new transform and with torchvision's (min_size = max_size = 320), in eval and train mode."""
    model = _model()
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 500, 500, generator=g) for _ in range(2)]
    targets = [
        {"boxes": torch.tensor([[100.0, 120.0, 260.0, 300.0]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[10.0, 20.0, 400.0, 450.0], [300.0, 300.0, 480.0, 490.0]]),
            "labels": torch.tensor([1, 1]),
        },
    ]
    new_transform, old_transform = model.transform, _torchvision_transform(model)
    state = copy.deepcopy(model.state_dict())

    def run(transform):
        model.load_state_dict(state)  # train mode updates the BatchNorm statistics
        model.transform = transform
        model.eval()
        with torch.no_grad():
            tensors = transform(images)[0].tensors
            detections = model(images)
        torch.manual_seed(5)  # the RPN and RoI samplers (and the transform's size draw) use it
        model.train()
        losses = model(images, [dict(t) for t in targets])
        return tensors, detections, {k: v.detach() for k, v in losses.items()}, torch.rand(4)

    new, old = run(new_transform), run(old_transform)
    model.transform = new_transform
    assert torch.equal(new[0], old[0])
    for a, b in zip(new[1], old[1]):
        assert len(a["boxes"]) > 0
        for key in ("boxes", "scores", "labels"):
            assert torch.equal(a[key], b[key]), key
    assert new[2].keys() == old[2].keys()
    for key in new[2]:
        assert torch.equal(new[2][key], old[2][key]), key
    assert torch.equal(new[3], old[3])  # the same draws from the global RNG


def test_state_dict_and_saved_model_unchanged(tmp_path):
    """The transform holds no tensors: a model.pt (which stores the reference side) loads as before."""
    model = _model(64, 100)
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "detector": model.deepcee_config, "image_size": 100, "step": 0}, path)
    loaded, _ = load_model(path)
    assert loaded.transform.reference_size == 100 and loaded.transform.min_size == (64,)
    assert not any("transform" in key for key in loaded.state_dict())
    # no network side set: the network works at the reference side, a scale of 1
    plain = build_detector({"weights": "none"}, 96, load_weights=False)
    assert plain.transform.min_size == (96,) and plain.transform.output_side(72) == 72


# --------------------------------------------------------------------------- check_samples


def test_check_samples_mixed_square_sizes(tmp_path):
    big = write_synthetic_pngs(tmp_path / "big", 2, 96, seed=1)
    small = write_synthetic_pngs(tmp_path / "small", 2, 72, seed=2)
    assert check_samples(big + small) == 96  # the largest side
    assert check_samples(big + small, reference_size=120) == 120  # the labels' output_size
    assert check_samples(small) == 72
    # a box inside the 96 px images but outside its own 72 px image
    bad = Sample(png=small[0].png, boxes=[(10.0, 10.0, 80.0, 60.0)], rows=[7])
    with pytest.raises(DeepCeeError, match=r"row 7 .* outside the 72x72 image"):
        check_samples(big + [bad], "labels.ecsv")
    # not square
    from deepcee.core.files import write_png

    wide = tmp_path / "wide.png"
    write_png(wide, np.zeros((60, 80, 3), dtype=np.uint8))
    with pytest.raises(DeepCeeError, match=r"wide.png is 80x60; the detector expects square images"):
        check_samples(big + [Sample(png=str(wide))])


# --------------------------------------------------------------------------- the batch sampler


def test_one_group_gives_todays_batches():
    plain = StepBatchSampler(7, 3, seed=4, total_steps=12)
    grouped = StepBatchSampler(7, 3, seed=4, total_steps=12, groups=[500] * 7)
    assert list(grouped) == list(plain)
    # today's batches: positions (s-1)*3 .. s*3-1 of the epochs' concatenated permutations
    from deepcee.core.seeds import rng

    flat = sum((rng(4, "train", "epoch", e).permutation(7).tolist() for e in range(6)), [])
    assert list(plain) == [flat[3 * s : 3 * s + 3] for s in range(12)]


def test_grouped_batches_hold_one_size_and_cover_each_epoch():
    sides = [500, 350, 500, 500, 350, 500, 350, 500, 350, 500, 500]  # 7 of 500, 4 of 350
    batch = 3
    per_epoch = 3 + 2  # ceil(7 / 3) + ceil(4 / 3)
    sampler = StepBatchSampler(len(sides), batch, seed=9, total_steps=4 * per_epoch, groups=sides)
    assert sampler.batches_per_epoch == per_epoch
    batches = list(sampler)
    assert len(batches) == 4 * per_epoch and all(len(b) == batch for b in batches)
    assert all(len({sides[i] for i in b}) == 1 for b in batches)
    from deepcee.core.seeds import rng

    for epoch in range(4):
        mine = batches[epoch * per_epoch : (epoch + 1) * per_epoch]
        assert {i for b in mine for i in b} == set(range(len(sides)))  # every image, every epoch
        # the recipe: the epoch's permutation split by size, cut, topped up, batches shuffled
        perm = rng(9, "train", "epoch", epoch).permutation(len(sides)).tolist()
        expected = []
        for side in (350, 500):
            members = [i for i in perm if sides[i] == side]
            cut = [members[k : k + batch] for k in range(0, len(members), batch)]
            cut[-1] = (cut[-1] + members)[:batch]
            expected += cut
        order = rng(9, "train", "epoch", epoch, "batches").permutation(len(expected))
        assert mine == [expected[j] for j in order]
    # reproducible; another seed gives other batches
    assert list(StepBatchSampler(len(sides), batch, 9, 4 * per_epoch, groups=sides)) == batches
    assert list(StepBatchSampler(len(sides), batch, 10, 4 * per_epoch, groups=sides)) != batches


def test_grouped_resume_gives_the_uninterrupted_batches():
    sides = [96, 72, 72, 96, 96, 72, 96]
    full = list(StepBatchSampler(len(sides), 2, seed=3, total_steps=17, groups=sides))
    for k in (1, 4, 5, 9, 16):
        resumed = StepBatchSampler(len(sides), 2, seed=3, total_steps=17, start_step=k, groups=sides)
        assert len(resumed) == 17 - k and list(resumed) == full[k:]
    # a group smaller than a batch is topped up from itself: index 1 is the only 72 px image
    tiny = list(StepBatchSampler(4, 3, seed=0, total_steps=4, groups=[96, 72, 96, 96]))
    assert sorted(sorted(b) for b in tiny) == [[0, 2, 3], [0, 2, 3], [1, 1, 1], [1, 1, 1]]


# --------------------------------------------------------------------------- training on two sizes

CFG = {
    "steps": 6,
    "batch_size": 2,
    "workers": 0,
    "checkpoint_every": 2,
    "device": "cpu",
    "optimiser": {"name": "adamw", "lr": 3e-4},
    "detector": {"image_size": 64},  # network side 64 for the reference 96 px: 96 -> 64, 72 -> 48
}


@pytest.fixture(scope="module")
def mixed_labels(tmp_path_factory):
    """A labels table of 4 images of 96 px and 3 of 72 px (same pixel scale), output_size 96."""
    root = tmp_path_factory.mktemp("mixed")
    big = read_table("labels", write_synthetic_set(root / "big", n=4, size=96, seed=1, fits_binning=1))
    small = read_table("labels", write_synthetic_set(root / "small", n=3, size=72, seed=2, fits_binning=1))
    small["view"] = [f"small_{v}" for v in small["view"]]
    table = vstack([Table(big), Table(small)], metadata_conflicts="silent")
    table.meta["output_size"] = 96
    path = root / "labels.ecsv"
    write_table("labels", table, path)
    return path


def _train(labels, out, **kw):
    return train(
        CFG,
        5,
        labels,
        out / "model.pt",
        out / "losses.csv",
        out / "checkpoints",
        threads=1,
        log=lambda m: None,
        **kw,
    )


def _losses(path):
    return [[r[c] for c in ("step", "loss_total", "loss_classifier")] for r in read_losses(path)]


def test_training_on_two_sizes_batches_of_one_size(mixed_labels, tmp_path, monkeypatch):
    assert labels_output_size(mixed_labels) == 96
    samples = read_samples(mixed_labels)
    assert sorted({check_samples([s]) for s in samples}) == [72, 96]
    seen = []
    step = training.train_step

    def recording_step(model, optimiser, images, targets, *args, **kw):
        seen.append(({tuple(img.shape) for img in images}, model.transform.reference_size))
        net = model.transform(
            [img.float().div(255) for img in images], [{k: v.clone() for k, v in t.items()} for t in targets]
        )[0]
        seen[-1] += (set(net.image_sizes),)
        return step(model, optimiser, images, targets, *args, **kw)

    monkeypatch.setattr(training, "train_step", recording_step)
    summary = _train(mixed_labels, tmp_path)
    assert len(seen) == CFG["steps"]
    assert all(len(shapes) == 1 for shapes, _, _ in seen)  # one image size per batch
    assert {next(iter(s))[-1] for s, _, _ in seen} == {96, 72}  # both sizes trained on
    assert all(ref == 96 for _, ref, _ in seen)
    for shapes, _, net in seen:  # one pixel scale: 96 -> 64, 72 -> 48
        assert net == {(64, 64)} if next(iter(shapes))[-1] == 96 else net == {(48, 48)}
    assert summary["image_size"] == 96
    assert torch.load(tmp_path / "model.pt", weights_only=True)["image_size"] == 96  # the reference side
    assert all(np.isfinite(r["loss_total"]) for r in read_losses(tmp_path / "losses.csv"))


def test_training_on_two_sizes_resumes_bit_identically(mixed_labels, tmp_path):
    reference = tmp_path / "ref"
    _train(mixed_labels, reference)

    def boom(step, values):
        if step == 5:
            raise KeyboardInterrupt

    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        _train(mixed_labels, resumed, on_step=boom)
    summary = _train(mixed_labels, resumed)
    assert summary["counts"]["resumed_from_step"] == 4
    assert _losses(resumed / "losses.csv") == _losses(reference / "losses.csv")  # one thread: bit-identical
    assert (resumed / "model.pt").read_bytes() == (reference / "model.pt").read_bytes()


# --------------------------------------------------------------------------- prediction


def test_size_batches():
    sizes = [(96, 96), (72, 72), (96, 96), (96, 96), (72, 72)]
    assert size_batches(sizes, 2) == [[0, 2], [3], [1, 4]]
    assert size_batches([(96, 96)] * 5, 2) == [[0, 1], [2, 3], [4]]  # one size: the plain batches


def test_predict_labels_on_350px_images(tmp_path):
    """A model trained on 500 px images (network 320) predicts 350 px views at 224 px; boxes within 350 px."""
    model = _model(320, 500)
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "detector": model.deepcee_config, "image_size": 500, "step": 0}, path)
    labels = write_synthetic_set(tmp_path / "views", n=0, size=350, seed=6, n_test=2, fits_binning=1)
    out = tmp_path / "pred.ecsv"
    table = predict_labels(path, labels, out, split="test", cfg={"batch_size": 2, "workers": 0}, log=lambda m: None)
    assert len(table) > 0 and set(table["view"]) <= {"syn0000_v0", "syn0001_v0"}
    for c in ("x0", "y0", "x1", "y1", "x", "y"):
        assert ((table[c] >= 0) & (table[c] <= 350)).all(), c
    assert np.isfinite(table["ra"]).all()
    # the network saw them at 224 px (the 500 px images' scale), not at 320 px
    loaded, _ = load_model(path)
    shapes = []
    loaded.backbone.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    predict_images(loaded, [str(p) for p in read_table("labels", labels)["png"]], batch_size=2, progress=False)
    assert shapes == [(2, 3, 224, 224)]


def test_predict_images_of_two_sizes_in_input_order(tmp_path, one_thread):
    """Mixed sizes: batches of one size, rows in the input order, each image's boxes as if alone."""
    model = _model(64, 96)  # scale 2/3: 96 -> 64, 48 -> 32 (multiples of 32: no padding)
    big = write_synthetic_pngs(tmp_path / "big", 2, 96, seed=1)
    small = write_synthetic_pngs(tmp_path / "small", 2, 48, seed=2)
    pngs = [big[0].png, small[0].png, big[1].png, small[1].png]
    views = ["b0", "s0", "b1", "s1"]
    shapes = []
    model.backbone.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    table = predict_images(model, pngs, views=views, batch_size=4, device="cpu", progress=False)
    assert shapes == [(2, 3, 64, 64), (2, 3, 32, 32)]  # one size per batch, one scale
    order = list(dict.fromkeys(str(v) for v in table["view"]))
    assert order == views  # rows in the input order
    for png, view in zip(pngs, views):
        alone = predict_images(model, [png], views=[view], batch_size=1, device="cpu", progress=False)
        mine = table[table["view"] == view]
        assert len(mine) > 0 and len(alone) > 0
        side = 96 if view.startswith("b") else 48
        assert ((mine["x1"] <= side) & (mine["y1"] <= side)).all()
        # batched and alone agree to rounding (NMS may split near-equal boxes differently: top scores only)
        top = min(10, len(mine), len(alone))
        assert np.allclose(np.sort(mine["score"])[::-1][:top], np.sort(alone["score"])[::-1][:top], atol=1e-4)
