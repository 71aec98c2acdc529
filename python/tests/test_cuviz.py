"""The Python module against the CLI on the same inputs, its errors, and its array handling.

Small sizes and few steps: each test runs in seconds on one core.
"""
import ast
import json
import pathlib
import re

import numpy as np
import pytest

import cuviz
from conftest import IMAGES

STUBS = pathlib.Path(cuviz.__file__).with_name("__init__.pyi")

# A quick render: inception_4a channel 97 at 64 px, 8 steps (every render test uses it).
OBJECTIVE = "inception_4a/output:97"
QUICK = dict(size=64, steps=8, seed=3)


def cli_flags(settings):
    return [a for k, v in settings.items() for a in (f"--{k.replace('_', '-')}", v)]


# ---- classify -------------------------------------------------------------------------------------


def parse_classify(stdout):
    """`cuviz classify` prints per class "  0.8341   967  espresso"."""
    rows = re.findall(r"^\s+([0-9.]+)\s+(\d+)\s+(.*)$", stdout, re.M)
    return [(label, float(p)) for p, _, label in rows]


def test_classify_coffee_is_espresso_with_the_clis_probabilities(googlenet, coffee, cli):
    top = googlenet.classify(coffee, top=5)
    assert len(top) == 5
    assert top[0][0] == "espresso"
    assert all(a[1] >= b[1] for a, b in zip(top, top[1:]))
    _, out, _ = cli.run("classify", "googlenet", coffee, "--top", 5, "--device", "cpu")
    expected = parse_classify(out)
    assert [label for label, _ in top] == [label for label, _ in expected]
    for (_, p), (_, q) in zip(top, expected):
        assert abs(p - q) <= 5e-5  # the CLI prints 4 decimals


def test_classify_array_inputs_equal_the_path(googlenet, coffee):
    from_path = googlenet.classify(coffee, top=3)
    pixels = cuviz.read_image(coffee)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert googlenet.classify(pixels, top=3) == from_path
    # float in [0, 1] is scaled by 255 and rounded: the same bytes, the same answer.
    assert googlenet.classify(pixels.astype(np.float64) / 255.0, top=3) == from_path
    # a non-contiguous view (every pixel of a twice-as-wide array) reads the same pixels.
    wide = np.zeros((pixels.shape[0], pixels.shape[1] * 2, 3), np.uint8)
    wide[:, ::2] = pixels
    assert googlenet.classify(wide[:, ::2], top=3) == from_path


def test_classify_bad_images(googlenet, coffee):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        googlenet.classify(np.zeros((8, 8), np.uint8))
    with pytest.raises(cuviz.Error, match="nosuch.png"):
        googlenet.classify("/nonexistent/nosuch.png")
    with pytest.raises(cuviz.UsageError, match="top must be positive"):
        googlenet.classify(coffee, top=0)


# ---- info, layers, forward ------------------------------------------------------------------------


def test_info_matches_cuviz_info(googlenet, cli):
    info = googlenet.info()
    _, out, _ = cli.run("info", "googlenet")
    total = re.search(r"^total\s+(\d+)\s+(\d+)$", out, re.M)
    assert (info["params"], info["macs"]) == (int(total.group(1)), int(total.group(2)))
    rows = re.findall(r"^(\S+)\s+(\S+)\s+\[([0-9, ]+)\]\s+(\d+)\s+(\d+)$", out, re.M)
    assert [(r["name"], r["type"]) for r in info["layers"]] == [(r[0], r[1]) for r in rows]
    assert info["input"] == (1, 3, 224, 224)
    names = [name for name, _ in googlenet.layers]
    assert "inception_4a/output" in names
    assert dict(googlenet.layers)["inception_4a/output"] == (1, 512, 14, 14)


def test_forward_matches_cuviz_forward(googlenet, cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 30, (2, 3, 64, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    cli.run("forward", "googlenet", "--input", tmp_path / "x.npy", "--layer", "inception_3a/output", "--out",
            tmp_path / "y.npy", "--device", "cpu")
    expected = np.load(tmp_path / "y.npy")
    y = googlenet.forward(x, "inception_3a/output")
    assert y.dtype == np.float32 and y.shape == expected.shape == (2, 256, 8, 8)
    assert np.array_equal(y, expected)
    # The result is the tensor's own buffer, owned by a capsule: no copy was made.
    assert not y.flags.owndata and y.flags.c_contiguous


def test_forward_converts_dtype_and_layout(googlenet):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 30, (1, 3, 48, 48)).astype(np.float32)
    y = googlenet.forward(x, "conv2/3x3")
    assert np.array_equal(googlenet.forward(x.astype(np.float64), "conv2/3x3"), y)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    strided = nhwc.transpose(0, 3, 1, 2)  # the same values, not C-contiguous
    assert not strided.flags.c_contiguous
    assert np.array_equal(googlenet.forward(strided, "conv2/3x3"), y)
    assert np.array_equal(googlenet.forward(x.tolist(), "conv2/3x3"), y)


def test_forward_bad_inputs(googlenet, cli, tmp_path):
    with pytest.raises(ValueError, match="expected an \\(N, C, H, W\\) array, got 3 dimensions"):
        googlenet.forward(np.zeros((3, 8, 8), np.float32), "conv1/7x7_s2")
    with pytest.raises(TypeError, match="convertible to float32"):
        googlenet.forward(np.array([["a"]]), "conv1/7x7_s2")
    with pytest.raises(cuviz.Error, match=r"takes 3 channels"):
        googlenet.forward(np.zeros((1, 4, 32, 32), np.float32), "conv1/7x7_s2")
    # An unknown layer: the CLI's message, word for word.
    x = np.zeros((1, 3, 32, 32), np.float32)
    np.save(tmp_path / "x.npy", x)
    code, _, err = cli.run("forward", "googlenet", "--input", tmp_path / "x.npy", "--layer", "nosuch", "--out",
                           tmp_path / "y.npy", "--device", "cpu", check=False)
    assert code == 1 and err.startswith("cuviz: error: ")
    with pytest.raises(cuviz.Error) as e:
        googlenet.forward(x, "nosuch")
    assert str(e.value) == err.strip()[len("cuviz: error: "):]


# ---- render ---------------------------------------------------------------------------------------


def test_render_equals_the_clis_npy(googlenet, cli, tmp_path):
    image = cuviz.render(googlenet, OBJECTIVE, quiet=True, **QUICK)
    assert image.dtype == np.float32 and image.shape == (64, 64, 3)
    cli.run("render", "googlenet", "--objective", OBJECTIVE, *cli_flags(QUICK), "--device", "cpu", "-q", "-o",
            tmp_path / "r.png", "--npy", tmp_path / "r.npy")
    expected = np.load(tmp_path / "r.npy")  # (N, 3, H, W)
    assert expected.shape == (1, 3, 64, 64)
    assert np.array_equal(image, expected[0].transpose(1, 2, 0))
    sidecar = json.loads((tmp_path / "r.json").read_text())
    for key, value in cuviz.render_defaults().items():
        if key not in QUICK and key != "objectives":
            assert sidecar[key] == value, key


def test_render_twice_with_one_seed_is_identical(googlenet):
    a = cuviz.render(googlenet, OBJECTIVE, quiet=True, **QUICK)
    b = cuviz.render(googlenet, OBJECTIVE, quiet=True, **QUICK)
    assert np.array_equal(a, b)
    c = cuviz.render(googlenet, OBJECTIVE, quiet=True, **dict(QUICK, seed=4))
    assert not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0


def test_render_batch_is_nhwc_without_a_copy(googlenet, cli, tmp_path):
    objectives = [OBJECTIVE, "inception_4a/output:11"]
    images = cuviz.render(googlenet, objectives, quiet=True, batch=2, size=32, steps=4)
    assert images.shape == (2, 32, 32, 3)
    # (N, 3, H, W) memory seen as (N, H, W, 3): strides, not a transposed copy.
    assert not images.flags.owndata and not images.flags.c_contiguous
    assert images.strides == (3 * 32 * 32 * 4, 32 * 4, 4, 32 * 32 * 4)
    cli.run("render", "googlenet", "--objective", objectives[0], "--objective", objectives[1], "--batch", 2,
            "--size", 32, "--steps", 4, "--device", "cpu", "-q", "-o", tmp_path / "b.png", "--npy", tmp_path / "b.npy")
    assert np.array_equal(images, np.load(tmp_path / "b.npy").transpose(0, 2, 3, 1))


def test_render_errors_are_the_clis(googlenet, cli, tmp_path):
    code, _, err = cli.run("render", "googlenet", "--objective", "nosuch/layer:0", "--size", 32, "--steps", 1,
                           "--device", "cpu", "-q", "-o", tmp_path / "e.png", check=False)
    assert code == 1
    with pytest.raises(cuviz.Error) as e:
        cuviz.render(googlenet, "nosuch/layer:0", size=32, steps=1, quiet=True)
    assert str(e.value) == err.strip()[len("cuviz: error: "):]
    assert not isinstance(e.value, cuviz.UsageError) and isinstance(e.value, RuntimeError)
    assert type(e.value).__module__ + "." + type(e.value).__name__ == "cuviz.Error"
    with pytest.raises(cuviz.UsageError, match="size"):
        cuviz.render(googlenet, OBJECTIVE, size=4)
    with pytest.raises(cuviz.UsageError, match="param"):
        cuviz.render(googlenet, OBJECTIVE, param="wavelet")
    with pytest.raises(cuviz.UsageError, match="2 objectives for batch 3"):
        cuviz.render(googlenet, [OBJECTIVE, OBJECTIVE], batch=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'stpes'"):
        cuviz.render(googlenet, OBJECTIVE, stpes=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'objectives'"):
        cuviz.render(googlenet, OBJECTIVE, objectives=[OBJECTIVE])
    with pytest.raises(TypeError, match="steps: expected int, got float"):
        cuviz.render(googlenet, OBJECTIVE, steps=2.5)
    with pytest.raises(cuviz.Error):  # an objective that does not parse
        cuviz.render(googlenet, "inception_4a/output:(", size=32, steps=1)


def test_stub_defaults_are_the_settings_defaults():
    """The .pyi's render() keyword defaults are viz/settings.h's (render_defaults())."""
    tree = ast.parse(STUBS.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "render")
    stub = {a.arg: ast.literal_eval(d) for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults)}
    stub.pop("quiet")
    defaults = cuviz.render_defaults()
    defaults.pop("objectives")  # the positional `objective`
    assert stub == defaults


# ---- the CLI-run methods --------------------------------------------------------------------------


def test_attribute_equals_the_clis_raw_map(googlenet, coffee, cli, tmp_path):
    saliency = cuviz.attribute(googlenet, coffee, "gradient", quiet=True)
    cli.run("attribute", "googlenet", coffee, "--method", "gradient", "--device", "cpu", "-q", "-o",
            tmp_path / "a.png", "--raw", tmp_path / "a.npy")
    assert saliency.dtype == np.float32
    assert np.array_equal(saliency, np.load(tmp_path / "a.npy"))
    assert np.abs(saliency).max() > 0


def test_sweep_writes_the_gallery(googlenet, tmp_path):
    manifest = cuviz.sweep(googlenet, "inception_4a/output", "0-1", tmp_path / "sw", size=32, steps=2, quiet=True)
    assert manifest["format"] == "cuviz-sweep-1"
    settings = manifest["settings"]
    assert (settings["layer"], settings["size"], settings["steps"]) == ("inception_4a/output", 32, 2)
    # The settings not given are the CLI's defaults, which render() shares (viz/settings.h).
    defaults = cuviz.render_defaults()
    assert all(settings[k] == defaults[k] for k in ("lr", "seed", "param", "transforms", "relu_override"))
    assert len(manifest["channels"]) == 2
    assert len(list((tmp_path / "sw" / "channels").glob("*.png"))) == 2
    assert (tmp_path / "sw" / "index.html").is_file()


def test_cli_usage_errors_raise_usage_error(googlenet, coffee):
    with pytest.raises(cuviz.UsageError, match="--no-such-flag"):
        cuviz.dream(googlenet, coffee, no_such_flag=1, quiet=True)
    with pytest.raises(cuviz.UsageError):
        cuviz.run_cli(["render"])
    with pytest.raises(cuviz.Error, match="nosuch"):
        cuviz.load("nosuch")


def test_attribute_several_methods_give_a_dict(googlenet, coffee):
    maps = cuviz.attribute(googlenet, coffee, ["gradient", "gradient_x_input"], quiet=True)
    assert sorted(maps) == ["gradient", "gradient_x_input"]
    assert maps["gradient"].shape == maps["gradient_x_input"].shape == (3, 224, 224)
    assert not np.array_equal(maps["gradient"], maps["gradient_x_input"])


def test_dream_equals_the_clis_png(googlenet, cli, tmp_path):
    photo = IMAGES / "chelsea.png"
    if not photo.is_file():
        pytest.skip(f"no sample photo {photo}")
    small = cuviz.read_image(str(photo))[100:164, 200:280]  # 64 x 80: the output keeps the photo's size
    cuviz.write_png(tmp_path / "small.png", small)
    assert np.array_equal(cuviz.read_image(str(tmp_path / "small.png")), small)
    settings = dict(layer="inception_3b/output", octaves=2, iters=2, seed=5)
    dreamed = cuviz.dream(googlenet, tmp_path / "small.png", out=tmp_path / "py.png", quiet=True, **settings)
    assert dreamed.dtype == np.float32 and dreamed.shape == (64, 80, 3)
    assert json.loads((tmp_path / "py.json").read_text())["octaves"] == 2
    cli.run("dream", "googlenet", tmp_path / "small.png", *cli_flags(settings), "--device", "cpu", "-q", "-o",
            tmp_path / "cli.png")
    assert np.array_equal(dreamed, cuviz.read_image(str(tmp_path / "cli.png")).astype(np.float32) / 255)
    assert not np.array_equal(cuviz.read_image(str(tmp_path / "cli.png")), small)


def test_keywords_become_the_clis_flags():
    from cuviz import _flags

    assert _flags({"relu_override": 8, "caricature": True, "raw": False, "labels": None, "class_": "flamingo",
                   "style": ["a.png", "b.png"]}) == [
        "--relu-override", "8", "--caricature", "--class", "flamingo", "--style", "a.png,b.png"]


def test_run_cli_knows_every_command_of_the_binary(cli, capfd):
    """run_cli's command list is apps/main.cpp's: every subcommand `cuviz --help` lists runs."""
    if not cli.binary:
        pytest.skip("no cuviz binary to list the commands")
    _, out, _ = cli.run("--help")
    commands = re.findall(r"^  ([a-z]+)\s{2,}", out.split("Subcommands:")[1], re.M)
    assert {"info", "render", "sweep", "attribute"} <= set(commands)
    for name in commands:
        cuviz.run_cli([name, "--help"])  # a command run_cli lacks prints the top-level help instead
        assert f"Usage: cuviz {name} [OPTIONS]" in capfd.readouterr().out, name


def test_style_invert_groups_classviz_run_with_the_clis_flags(googlenet, tmp_path):
    chelsea, rocket = IMAGES / "chelsea.png", IMAGES / "rocket.jpg"
    if not (chelsea.is_file() and rocket.is_file()):
        pytest.skip("no sample photos")
    styled = cuviz.style(googlenet, chelsea, rocket, size=64, iters=2, quiet=True)
    assert styled.dtype == np.float32 and styled.shape == (43, 64, 3)  # chelsea's aspect, 64 wide
    inverted = cuviz.invert(googlenet, chelsea, layer="inception_3a/output", size=64, steps=2, quiet=True)
    assert inverted.shape == (64, 64, 3)
    factors = cuviz.groups(googlenet, chelsea, tmp_path / "g", layer="inception_4a/output", k=2, size=32, steps=2,
                           quiet=True)
    assert factors["W"].shape == (196, 2) and factors["H"].shape == (2, 512)
    assert (factors["W"] >= 0).all() and (factors["H"] >= 0).all()  # NMF, the default method
    flamingo = cuviz.classviz(googlenet, class_="flamingo", steps=2, quiet=True, out=tmp_path / "f.png")
    assert flamingo.shape == (224, 224, 3)
    sidecar = json.loads((tmp_path / "f.json").read_text())  # class_ reached --class
    assert (sidecar["class"], sidecar["class_index"], sidecar["steps"]) == ("flamingo", 130, 2)
    with pytest.raises(cuviz.UsageError, match="--layer is required"):
        cuviz.invert(googlenet, chelsea, size=64, steps=2, quiet=True)
