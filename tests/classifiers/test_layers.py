"""MatmulConv1d is nn.Conv1d with another graph: same outputs, same state dict."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from audio_detect.classifiers.layers import ChannelsLastBatchNorm1d, MatmulConv1d  # noqa: E402

pytestmark = pytest.mark.torch

SHAPES = [  # (in, out, kernel, kwargs): every conv the shipped models use, and a few more
    (80, 48, 3, {"padding": 1}),  # Whisper conv1
    (48, 48, 3, {"stride": 2, "padding": 1}),  # Whisper conv2
    (48, 16, 3, {"padding": 2, "dilation": 2}),  # conv_asp head, dilated
    (16, 8, 1, {}),  # attentive pooling
    (8, 8, 5, {"stride": 2, "padding": 0}),
    (4, 6, 7, {"stride": 3, "padding": 3}),
]


@pytest.mark.parametrize(("c_in", "c_out", "k", "kw"), SHAPES)
@pytest.mark.parametrize("length", [37, 38, 39, 40])
def test_matches_conv1d(c_in: int, c_out: int, k: int, kw: dict, length: int) -> None:
    torch.manual_seed(length)
    ref = nn.Conv1d(c_in, c_out, k, **kw)
    mm = MatmulConv1d(c_in, c_out, k, **kw)
    mm.load_state_dict(ref.state_dict())  # same parameters, same keys
    x = torch.randn(3, c_in, length)
    want = ref(x)
    got = mm(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for out_last in (False, True):
        for in_last in (False, True):
            mm = MatmulConv1d(
                c_in, c_out, k, channels_last=out_last, channels_last_input=in_last, **kw
            )
            mm.load_state_dict(ref.state_dict())
            got = mm(x.transpose(1, 2) if in_last else x)
            expect = want.transpose(1, 2) if out_last else want
            torch.testing.assert_close(got, expect, atol=1e-5, rtol=1e-5)


def test_gradients_match() -> None:
    ref = nn.Conv1d(6, 4, 3, stride=2, padding=1)
    mm = MatmulConv1d(6, 4, 3, stride=2, padding=1)
    mm.load_state_dict(ref.state_dict())
    x = torch.randn(2, 6, 21)
    ref(x).square().sum().backward()
    mm(x).square().sum().backward()
    assert mm.weight.grad is not None and ref.weight.grad is not None
    torch.testing.assert_close(mm.weight.grad, ref.weight.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("k", "kw"),
    [
        (3, {"groups": 2}),
        (3, {"padding": "same"}),
        (3, {"padding_mode": "reflect", "padding": 1}),
        (2, {"stride": 2}),  # taps would end on different output frames
    ],
)
def test_unsupported_configurations_are_refused(k: int, kw: dict) -> None:
    with pytest.raises(ValueError, match="MatmulConv1d"):
        MatmulConv1d(4, 4, k, **kw)


@pytest.mark.parametrize("affine", [True, False])
def test_channels_last_batchnorm_matches_batchnorm(affine: bool) -> None:
    torch.manual_seed(0)
    ref = nn.BatchNorm1d(5, affine=affine)
    bn = ChannelsLastBatchNorm1d(5, affine=affine)
    x = torch.randn(4, 5, 9) * 3 + 1
    # training: batch statistics, running statistics updated alike
    torch.testing.assert_close(bn(x.transpose(1, 2)), ref(x).transpose(1, 2))
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    if affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 2.0)
            ref.bias.uniform_(-1.0, 1.0)
        bn.load_state_dict(ref.state_dict())
    ref.eval()
    bn.eval()
    y = torch.randn(2, 5, 7)
    torch.testing.assert_close(bn(y.transpose(1, 2)), ref(y).transpose(1, 2), atol=1e-5, rtol=1e-5)
