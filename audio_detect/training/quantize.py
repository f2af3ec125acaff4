"""Post-training int8 quantization of an exported countermeasure graph.

Dynamic quantization (onnxruntime): ``MatMul`` weights are stored as int8 with one
scale per output channel, activations are quantized per call from their observed
range, products accumulate in int32 (``DynamicQuantizeMatMul``, VNNI/AVX2 kernels on
x86). No calibration data is needed and no activation range can be mis-estimated.

The int8 weights are *stored* as uint8 (``w + 128`` with zero point ``128``), which is
the same integer product. Activations are uint8, and onnxruntime's uint8 x int8 kernel
on x86 CPUs without VNNI (AVX2 only: AMD Zen 1-3, many Intel parts) adds pairs of
products in saturating 16-bit arithmetic (``vpmaddubsw``; the "saturation" note of
onnxruntime's quantization guide): there the shipped 2.1.0 graph scored up to 3.1
logits away from the same graph on a VNNI CPU. Its uint8 x uint8 kernel widens to
16 bits first and is exact on every CPU (:func:`unsign_int8_weights`).

``weight_bits=7`` (onnxruntime's ``reduce_range``) instead keeps the weights signed on a
7-bit grid (-64..64): a pair of products then sums to at most 2 x 255 x 64 = 32,640, inside
16 bits, so the fast uint8 x int8 kernel is exact on AVX2 CPUs too, at the price of one
bit of weight resolution.

What is *not* quantized, on purpose:

* the STFT ``Conv`` and the mel product of the front end: an 8-bit grid on waveform
  frames would put quantization noise about 48 dB under the loudest frame, well above
  the mel floor of quiet speech; the front end is ~5 % of the cost;
* activation-by-activation products (attention scores): dynamic quantization only
  handles a constant weight operand.

Convolutions of the Whisper stem and the heads are exported as ``MatMul`` (see
:class:`audio_detect.classifiers.layers.MatmulConv1d`) so they are covered. The mel
filter bank product (constant ``(80, n_freq)`` first operand, which the quantizer leaves
alone anyway) is also excluded by name, so a front end that puts its filter bank
second stays float32 too (see :func:`_front_end_matmuls`).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ParameterError

__all__ = ["quantize_int8", "score_deviation", "unsign_int8_weights"]

logger = logging.getLogger(__name__)


def _front_end_matmuls(model: Any) -> list[str]:
    """Names of ``MatMul`` nodes on a signal path from the input that reaches no ``Log``.

    Those belong to the spectral front end (the mel filter bank) and stay float32.
    Paths through ``Shape`` carry sizes, not signal, and are not followed.
    """
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    frontier = [i.name for i in model.graph.input]
    seen: set[str] = set()
    keep: list[str] = []
    while frontier:
        tensor = frontier.pop()
        for node in consumers.get(tensor, []):
            if node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type == "MatMul":
                keep.append(node.name)
            if node.op_type in ("Log", "Shape", "Size"):  # the log-mel ends the front end
                continue
            frontier.extend(node.output)
    return keep


@contextlib.contextmanager
def _quiet_preprocessing_hint() -> Iterator[None]:
    """Drop onnxruntime's root-logger advice to run its shape pre-processing.

    That pre-processing is symbolic shape inference, which fails on the dynamo
    export; constant folding (done here) is the part of it that matters for us.
    """

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def quantize_int8(src: str | Path, dst: str | Path, *, weight_bits: int = 8) -> dict[str, Any]:
    """Write an int8 (dynamic, per-channel ``MatMul`` weights) copy of ``src`` to ``dst``.

    ``weight_bits`` 8 stores the weights as uint8 (exact everywhere, slower kernel on
    AVX2-only CPUs); 7 keeps them signed on a 7-bit grid (exact everywhere, the fast
    kernel). Returns a summary for the manifest: the method, how many ``MatMul`` nodes
    were quantized and which front-end nodes were kept in float32.
    """
    if weight_bits not in (7, 8):
        raise ParameterError.invalid("weight_bits", "7 or 8", weight_bits)
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src))
    # torch's dynamo exporter records some intermediate shapes with a placeholder
    # batch size that onnx shape inference (run by the quantizer) then rejects;
    # onnxruntime re-infers every shape at load time, so the hints can go.
    del model.graph.value_info[:]
    with tempfile.TemporaryDirectory() as tmp:
        plain, folded = Path(tmp) / "plain.onnx", Path(tmp) / "folded.onnx"
        onnx.save(model, str(plain))
        # Fold constants first (onnxruntime's basic, hardware-independent level): the
        # exported conv weights reach their MatMul through Reshape/Transpose nodes,
        # and the quantizer only quantizes a MatMul whose weight is an initializer.
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.optimized_model_filepath = str(folded)
        ort.InferenceSession(str(plain), opts, providers=["CPUExecutionProvider"])
        model = onnx.load(str(folded))
        excluded = _front_end_matmuls(model)
        n_matmul = sum(node.op_type == "MatMul" for node in model.graph.node)
        with _quiet_preprocessing_hint():
            quantize_dynamic(
                str(folded),
                str(dst),
                op_types_to_quantize=["MatMul"],
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=weight_bits == 7,
                nodes_to_exclude=excluded,
            )
        model = onnx.load(str(dst))
        n_unsigned = unsign_int8_weights(model) if weight_bits == 8 else 0
        onnx.save(model, str(dst))
    quantized = sum(
        node.op_type in ("MatMulInteger", "DynamicQuantizeMatMul") for node in model.graph.node
    )
    logger.info(
        "int8 (%d-bit weights): %d of %d MatMul nodes quantized "
        "(%d front-end nodes kept float32); %.1f -> %.1f MB",
        weight_bits, quantized, n_matmul, len(excluded),
        src.stat().st_size / 1e6, dst.stat().st_size / 1e6,
    )  # fmt: skip
    return {
        "kind": "dynamic_int8",
        "op_types": ["MatMul"],
        "per_channel": True,
        "n_matmul": n_matmul,
        "n_quantized": quantized,
        "float32_nodes": excluded,
        "weight_bits": weight_bits,
        "weight_storage": "uint8" if n_unsigned else "int8",
    }


def unsign_int8_weights(model: Any) -> int:
    """Store every signed ``MatMulInteger`` weight of ``model`` as uint8; return how many.

    ``w`` and its zero point ``z`` (int8) become ``w + 128`` and ``z + 128`` (uint8):
    ``w - z`` is unchanged, so the graph computes the same integer products, but
    onnxruntime then runs its uint8 x uint8 kernels, which do not saturate on CPUs
    without VNNI (see the module docstring). A node without a weight zero point (absent
    or empty: 0) gets a uint8 one of 128. ``model`` (an ``onnx.ModelProto``) is changed
    in place; an initializer shared by several nodes is converted once.
    """
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    done: set[str] = set()

    def shift(name: str) -> bool:  # int8 initializer -> uint8 (+128); True if it was int8
        if name in done:
            return True
        arr = numpy_helper.to_array(inits[name])
        if arr.dtype != np.int8:
            return False
        shifted = (arr.astype(np.int16) + 128).astype(np.uint8)
        inits[name].CopyFrom(numpy_helper.from_array(shifted, name))
        done.add(name)
        return True

    n = 0
    for node in model.graph.node:
        # Inputs: A, B, a_zero_point, b_zero_point; B (and its zero point) is the weight.
        if node.op_type != "MatMulInteger" or node.input[1] not in inits:
            continue
        weight = node.input[1]
        fresh = weight not in done
        if not shift(weight):
            continue  # already unsigned
        n += fresh
        zp = node.input[3] if len(node.input) > 3 else ""
        if zp:
            if zp in inits:
                shift(zp)
            continue
        zp = f"{weight}_zero_point_u8"
        if zp not in inits:
            inits[zp] = numpy_helper.from_array(np.array(128, dtype=np.uint8), zp)
            model.graph.initializer.append(inits[zp])
        while len(node.input) < 4:
            node.input.append("")
        node.input[3] = zp
    return n


def score_deviation(float_path: str | Path, int8_path: str | Path, waveforms: np.ndarray) -> float:
    """``max |score_fp32 - score_int8|`` of the two graphs on ``waveforms`` ``(B, N)``."""
    from .export import INPUT_NAME, OUTPUT_NAME, onnx_session

    x = np.ascontiguousarray(waveforms, dtype=np.float32)
    (a,) = onnx_session(float_path).run([OUTPUT_NAME], {INPUT_NAME: x})
    (b,) = onnx_session(int8_path).run([OUTPUT_NAME], {INPUT_NAME: x})
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
