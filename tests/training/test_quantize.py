"""int8 export: which nodes get int8 weights, which stay float, and what it costs in score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from extras import needs_whisper_tiny  # noqa: E402

from audio_detect.audio.io import load_audio  # noqa: E402
from audio_detect.exceptions import ParameterError  # noqa: E402
from audio_detect.training.config import load_train_config  # noqa: E402
from audio_detect.training.export import export_onnx  # noqa: E402
from audio_detect.training.models import build_model  # noqa: E402
from audio_detect.training.quantize import (  # noqa: E402
    quantize_int8,
    score_deviation,
    unsign_int8_weights,
)

pytestmark = [pytest.mark.torch, needs_whisper_tiny]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A Whisper-feature model (random head) exported float32 and quantized to int8."""
    cfg = load_train_config(REPO / "configs" / "tiny_whisper_ci.json")
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    root = tmp_path_factory.mktemp("quant")
    fp32 = export_onnx(model, root / "fp32.onnx", sample_rate=cfg.sample_rate)
    info = quantize_int8(fp32, root / "int8.onnx")
    return fp32, root / "int8.onnx", info


def _weight_matmuls(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    m = onnx.load(str(path))
    init = {i.name: tuple(i.dims) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type in ("MatMul", "MatMulInteger", "DynamicQuantizeMatMul"):
            consts = [init[i] for i in n.input[:2] if i in init]  # a weight on either side
            if consts:
                out[n.name] = (n.op_type, consts[0])
    return out


def test_every_weight_matmul_but_the_mel_bank_is_int8(graphs: tuple[Path, Path, dict]) -> None:
    _, int8, info = graphs
    found = _weight_matmuls(int8)
    float_ones = {name: shape for name, (op, shape) in found.items() if op == "MatMul"}
    # Only the mel filter bank (80 bands x FFT bins, 8 kHz: 80 x 101) stays float32.
    assert list(float_ones.values()) == [(80, 101)]
    assert list(float_ones) == info["float32_nodes"]
    n_int8 = sum(op != "MatMul" for op, _ in found.values())
    # stem (2 convs) + block (qkv, out, fc1, fc2) + head (2 convs, 2 pooling convs, score)
    assert n_int8 == info["n_quantized"] == 11
    assert int8.stat().st_size < 0.5 * graphs[0].stat().st_size


def test_int8_scores_track_float32_on_speech(
    graphs: tuple[Path, Path, dict], fixture_audio: dict[str, Path]
) -> None:
    fp32, int8, _ = graphs
    clips = [load_audio(p, sr=8000).samples for p in fixture_audio.values()]
    n = min(len(c) for c in clips)
    x = np.stack([c[:n] for c in clips] + [c[: n // 2].repeat(2) for c in clips])
    diff = score_deviation(fp32, int8, x)
    assert diff > 0.0  # it is a different graph...
    import onnxruntime as ort

    (ref,) = ort.InferenceSession(str(fp32)).run(None, {"waveform": x.astype(np.float32)})
    spread = float(np.ptp(ref))
    assert diff < 0.1 * spread  # ...whose scores stay close to float32's, relative to their range


def test_int8_weights_are_stored_unsigned(graphs: tuple[Path, Path, dict]) -> None:
    _, int8, info = graphs
    m = onnx.load(str(int8))
    init = {t.name: t for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type == "MatMulInteger"]
    assert len(nodes) == info["n_quantized"] and info["weight_storage"] == "uint8"
    for n in nodes:
        assert init[n.input[1]].data_type == onnx.TensorProto.UINT8
        assert init[n.input[3]].data_type == onnx.TensorProto.UINT8


def _matmul_integer_graph(b: np.ndarray, zero_point: str, n_nodes: int = 1) -> onnx.ModelProto:
    """``n_nodes`` MatMulInteger nodes sharing weight ``B``; ``zero_point`` of B: given
    (int8 zeros), absent (3 inputs) or empty (a 4th input named "")."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(np.uint8(0), "a_zp")]
    inputs = ["A", "B", "a_zp"]
    if zero_point == "given":
        inits.append(numpy_helper.from_array(np.zeros(b.shape[1], dtype=np.int8), "b_zp"))
        inputs.append("b_zp")
    elif zero_point == "empty":
        inputs.append("")
    nodes = [helper.make_node("MatMulInteger", inputs, [f"Y{i}"]) for i in range(n_nodes)]
    graph = helper.make_graph(
        nodes,
        "mmi",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [None, b.shape[0]])],
        [
            helper.make_tensor_value_info(f"Y{i}", TensorProto.INT32, [None, b.shape[1]])
            for i in range(n_nodes)
        ],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("zero_point", ["given", "absent", "empty"])
@pytest.mark.parametrize("n_nodes", [1, 2])
def test_unsigned_weights_give_the_exact_integer_product(zero_point: str, n_nodes: int) -> None:
    """Large activations and weights, where a saturating 16-bit pair sum (u8 x s8 on
    AVX2 without VNNI) would go wrong: the converted graph equals the exact product,
    also for a weight two nodes share and for a weight without a zero point."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    a = rng.integers(200, 256, size=(8, 64), dtype=np.uint8)
    b = rng.choice(np.array([-128, -127, 120, 127], dtype=np.int8), size=(64, 16))
    model = _matmul_integer_graph(b, zero_point, n_nodes)
    assert unsign_int8_weights(model) == 1  # one weight initializer
    init = {t.name: t for t in model.graph.initializer}
    assert init["B"].data_type == onnx.TensorProto.UINT8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    exact = a.astype(np.int64) @ b.astype(np.int64)
    for y in sess.run(None, {"A": a}):
        np.testing.assert_array_equal(y, exact)
    assert unsign_int8_weights(model) == 0  # idempotent: nothing signed is left


def test_seven_bit_signed_weights_give_the_exact_integer_product() -> None:
    """The 7-bit grid of ``weight_bits=7``: signed weights up to 64 against activations
    up to 255 stay exact in the uint8 x int8 kernel (no saturating pair sum, also on
    AVX2 without VNNI), with no conversion to uint8."""
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    a = rng.integers(200, 256, size=(8, 64), dtype=np.uint8)
    b = rng.choice(np.array([-64, -63, 60, 64], dtype=np.int8), size=(64, 16))
    model = _matmul_integer_graph(b, "given", 1)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"A": a})
    np.testing.assert_array_equal(y, a.astype(np.int64) @ b.astype(np.int64))


def test_seven_bit_quantization_keeps_signed_weights_on_the_smaller_grid(
    graphs: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    fp32 = graphs[0]
    info = quantize_int8(fp32, tmp_path / "int7.onnx", weight_bits=7)
    assert info["weight_bits"] == 7 and info["weight_storage"] == "int8"
    m = onnx.load(str(tmp_path / "int7.onnx"))
    weights = [
        onnx.numpy_helper.to_array(i)
        for i in m.graph.initializer
        if i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 2
    ]
    assert len(weights) == info["n_quantized"]
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64
    rng = np.random.default_rng(0)
    x = (0.05 * rng.standard_normal((2, 16000))).astype(np.float32)
    assert score_deviation(fp32, tmp_path / "int7.onnx", x) < 0.5
    with pytest.raises(ParameterError, match="weight_bits"):
        quantize_int8(fp32, tmp_path / "x.onnx", weight_bits=6)
