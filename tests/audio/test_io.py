"""Tests of audio_detect.audio.io: formats, metadata, channels, resampling, limits, G.711."""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal as sps

from audio_detect.audio import io as aio
from audio_detect.audio.io import (
    RawFormat,
    decode_raw,
    encode_g711,
    load_audio,
    resample,
    save_audio,
)
from audio_detect.exceptions import (
    AudioDecodeError,
    AudioFileNotFoundError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    NotAFileError,
    NotAudioError,
    ParameterError,
    UnsupportedFormatError,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def spectral_similarity(a: np.ndarray, b: np.ndarray, sr: int) -> float:
    """Correlation of the log power spectra in the telephone band (delay-insensitive)."""
    _, pa = sps.welch(a, sr, nperseg=512)
    f, pb = sps.welch(b, sr, nperseg=512)
    band = (f > 100) & (f < 3400)
    return float(np.corrcoef(np.log10(pa[band] + 1e-12), np.log10(pb[band] + 1e-12))[0, 1])


# name, sr, soundfile (format, subtype), codec, container, bit_depth, max abs error
SF_CASES = [
    ("wav_u8", 8000, ("WAV", "PCM_U8"), "pcm_u8", "wav", 8, 1 / 128),
    ("wav_s16", 16000, ("WAV", "PCM_16"), "pcm_s16le", "wav", 16, 1 / 32768),
    ("wav_s24", 16000, ("WAV", "PCM_24"), "pcm_s24le", "wav", 24, 1e-6),
    ("wav_s32", 16000, ("WAV", "PCM_32"), "pcm_s32le", "wav", 32, 1e-6),
    ("wav_f32", 16000, ("WAV", "FLOAT"), "pcm_f32le", "wav", 32, 0.0),
    ("wav_f64", 16000, ("WAV", "DOUBLE"), "pcm_f64le", "wav", 64, 0.0),
    ("wav_mulaw", 8000, ("WAV", "ULAW"), "pcm_mulaw", "wav", 8, 0.02),
    ("wav_alaw", 8000, ("WAV", "ALAW"), "pcm_alaw", "wav", 8, 0.02),
    ("flac_16", 16000, ("FLAC", "PCM_16"), "flac", "flac", 16, 1 / 32768),
    ("flac_24", 48000, ("FLAC", "PCM_24"), "flac", "flac", 24, 1e-6),
    ("aiff_16", 16000, ("AIFF", "PCM_16"), "pcm_s16be", "aiff", 16, 1 / 32768),
]


@pytest.mark.parametrize(
    ("name", "sr", "fmt", "codec", "container", "bits", "tol"),
    SF_CASES,
    ids=[c[0] for c in SF_CASES],
)
def test_lossless_round_trip(make_speech, sf_enc, name, sr, fmt, codec, container, bits, tol):
    y = make_speech(0.5, sr)
    audio = load_audio(sf_enc(y, sr, *fmt))
    assert audio.sr == audio.source_sr == sr
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.samples.size == y.size
    assert (audio.codec, audio.container, audio.bit_depth, audio.channels) == (
        codec, container, bits, 1
    )  # fmt: skip
    assert np.max(np.abs(audio.samples - y)) <= tol + 1e-7
    assert np.corrcoef(audio.samples, y)[0, 1] > 0.999
    assert audio.extra["decoder"] == "soundfile"


LOSSY_CASES = [
    ("gsm610_wav", 8000, "sf", ("WAV", "GSM610"), "gsm_ms", "wav"),
    ("ogg_vorbis", 16000, "sf", ("OGG", "VORBIS"), "vorbis", "ogg"),
    ("ogg_opus", 16000, "sf", ("OGG", "OPUS"), "opus", "ogg"),
    ("mp3", 16000, "av", ("mp3", "libmp3lame"), "mp3", "mp3"),
    ("m4a_aac", 16000, "av", ("ipod", "aac"), "aac", "mp4"),
    ("adts_aac", 16000, "av", ("adts", "aac"), "aac", "aac"),
    ("amr_nb", 8000, "av", ("amr", "libopencore_amrnb"), "amr_nb", "amr"),
    ("webm_opus", 48000, "av", ("webm", "libopus"), "opus", "webm"),
    ("wav_mulaw_ffmpeg", 8000, "av", ("wav", "pcm_mulaw"), "pcm_mulaw", "wav"),
]


@pytest.mark.parametrize(
    ("name", "sr", "kind", "args", "codec", "container"), LOSSY_CASES,
    ids=[c[0] for c in LOSSY_CASES],
)  # fmt: skip
def test_codec_round_trip(make_speech, sf_enc, av_enc, name, sr, kind, args, codec, container):
    y = make_speech(1.0, sr)
    data = sf_enc(y, sr, *args) if kind == "sf" else av_enc(y, sr, *args)
    audio = load_audio(data)
    assert audio.sr == audio.source_sr == sr
    assert (audio.codec, audio.container, audio.channels) == (codec, container, 1)
    # Codec priming/padding may add up to a frame or two (AAC: 1024 + 1024 samples).
    assert abs(audio.duration - 1.0) < 0.15
    assert np.all(np.abs(audio.samples) <= 1.0)
    assert spectral_similarity(audio.samples, y, sr) > 0.95
    assert 0.7 < np.std(audio.samples) / np.std(y) < 1.3


def test_bit_depth_none_for_lossy(make_speech, av_enc):
    audio = load_audio(av_enc(make_speech(0.5, 16000), 16000, "mp3", "libmp3lame"))
    assert audio.bit_depth is None
    assert audio.extra == {"decoder": "pyav", "decode_errors": 0}


def test_path_bytes_and_file_objects_agree(tmp_path, make_speech, sf_enc):
    data = sf_enc(make_speech(0.5, 8000), 8000, "FLAC", "PCM_16")
    path = tmp_path / "call.bin"  # extension deliberately meaningless
    path.write_bytes(data)
    ref = load_audio(data).samples
    for source in (str(path), path, bytearray(data), memoryview(data), io.BytesIO(data)):
        np.testing.assert_array_equal(load_audio(source).samples, ref)
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(load_audio(fh).samples, ref)


def test_wrong_extension_is_ignored(tmp_path, make_speech, av_enc):
    data = av_enc(make_speech(0.5, 16000), 16000, "mp3", "libmp3lame")
    path = tmp_path / "looks_like.wav"
    path.write_bytes(data)
    assert load_audio(path).codec == "mp3"


def test_random_bytes_named_au_are_not_decoded_as_raw(tmp_path):
    # libsndfile falls back to the extension for .au/.gsm/.vox; content detection must win.
    path = tmp_path / "noise.au"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(AudioDecodeError):
        load_audio(path)


# --------------------------------------------------------------------------- channels


def stereo_wav(sf_enc, n=4000, sr=8000):
    left = np.full(n, 0.25, dtype=np.float32)
    right = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    return left, right, sf_enc(np.stack([left, right]), sr, "WAV", "PCM_16")


def test_channel_selection(sf_enc):
    left, right, data = stereo_wav(sf_enc)
    a0 = load_audio(data, channel=0)
    a1 = load_audio(data, channel=1)
    mix = load_audio(data)
    assert a0.channels == a1.channels == mix.channels == 2
    np.testing.assert_allclose(a0.samples, left, atol=1 / 32768)
    np.testing.assert_allclose(a1.samples, right, atol=1 / 32768)
    np.testing.assert_allclose(mix.samples, (left + right) / 2, atol=1 / 32768)


@pytest.mark.parametrize("channel", [2, 7, -1, "left", True, 1.0])
def test_bad_channel_is_parameter_error(sf_enc, channel):
    data = stereo_wav(sf_enc)[2]
    with pytest.raises(ParameterError, match="'channel' parameter"):
        load_audio(data, channel=channel)


def test_channel_selection_through_pyav(make_speech):
    import av

    buf = io.BytesIO()
    n, sr = 8000, 16000
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=sr, layout="stereo")
        loud = make_speech(n / sr, sr)
        frame = av.AudioFrame.from_ndarray(
            np.stack([loud, np.zeros_like(loud)]), format="fltp", layout="stereo"
        )
        frame.sample_rate = sr
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    data = buf.getvalue()
    a0, a1 = load_audio(data, channel=0), load_audio(data, channel=1)
    assert a0.channels == 2 and a0.extra["decoder"] == "pyav"
    assert np.std(a0.samples) > 0.05 > 100 * np.std(a1.samples)
    with pytest.raises(ParameterError):
        load_audio(data, channel=2)


# --------------------------------------------------------------------------- resampling


def test_load_with_resampling(make_speech, sf_enc):
    y8 = make_speech(1.0, 8000)
    up = load_audio(sf_enc(y8, 8000, "WAV", "PCM_16"), sr=16000)
    assert (up.sr, up.source_sr, up.samples.size) == (16000, 8000, 16000)
    native = load_audio(sf_enc(y8, 8000, "WAV", "PCM_16"))
    ref = resample(native.samples, orig_sr=8000, target_sr=16000)
    assert ref.size == up.samples.size
    assert np.max(np.abs(ref - up.samples)) < 1e-3  # streaming vs one-shot soxr
    down = load_audio(sf_enc(make_speech(1.0, 16000), 16000, "FLAC", "PCM_16"), sr=8000)
    assert (down.sr, down.source_sr, down.samples.size) == (8000, 16000, 8000)


def test_resample_round_trip_and_shapes(make_speech):
    y = make_speech(1.0, 8000)
    up = resample(y, orig_sr=8000, target_sr=16000)
    assert up.dtype == np.float32 and up.shape == (16000,)
    back = resample(up, orig_sr=16000, target_sr=8000)
    inner = slice(200, -200)  # filter edges
    assert np.max(np.abs(back[inner] - y[inner])) < 0.01
    stereo = resample(np.stack([y, -y]), orig_sr=8000, target_sr=11025)
    assert stereo.shape == (2, 11025)
    np.testing.assert_allclose(stereo[0], -stereo[1], atol=1e-6)
    assert resample(np.zeros(0), orig_sr=8000, target_sr=16000).shape == (0,)
    np.testing.assert_array_equal(resample(y, orig_sr=8000, target_sr=8000), y)
    with pytest.raises(ParameterError, match="'orig_sr'"):
        resample(y, orig_sr=0, target_sr=8000)


# --------------------------------------------------------------------------- raw and G.711


def test_g711_reference_values():
    assert encode_g711(np.zeros(1), encoding="mulaw") == b"\xff"
    assert encode_g711(np.zeros(1), encoding="alaw") == b"\xd5"
    assert encode_g711(np.array([1.0, -1.0]), encoding="mulaw") == b"\x80\x00"
    assert encode_g711(np.array([1.0, -1.0]), encoding="alaw") == b"\xaa\x2a"
    mu = decode_raw(bytes([0x00, 0x7F, 0x80, 0xFF]), encoding="mulaw", sr=8000) * 32768
    np.testing.assert_array_equal(mu, [-32124, 0, 32124, 0])
    al = decode_raw(bytes([0x00, 0x55, 0x80, 0xD5, 0xAA, 0x2A]), encoding="alaw", sr=8000)
    np.testing.assert_array_equal(al * 32768, [-5504, -8, 5504, 8, 32256, -32256])


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_matches_audioop_exhaustively(encoding):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    lin = np.arange(-32768, 32768, dtype="<i2")
    to_law = audioop.lin2ulaw if encoding == "mulaw" else audioop.lin2alaw
    from_law = audioop.ulaw2lin if encoding == "mulaw" else audioop.alaw2lin
    assert encode_g711(lin / 32768.0, encoding=encoding) == to_law(lin.tobytes(), 2)
    codes = bytes(range(256))
    expected = np.frombuffer(from_law(codes, 2), dtype="<i2")
    np.testing.assert_array_equal(decode_raw(codes, encoding=encoding, sr=8000) * 32768, expected)


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_matches_libsndfile(encoding):
    codes = bytes(range(256))
    subtype = "ULAW" if encoding == "mulaw" else "ALAW"
    ref, _ = sf.read(
        io.BytesIO(codes),
        samplerate=8000,
        channels=1,
        format="RAW",
        subtype=subtype,
        dtype="float32",
    )
    np.testing.assert_array_equal(decode_raw(codes, encoding=encoding, sr=8000), ref)


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_round_trip_quality(make_speech, encoding):
    y = make_speech(1.0, 8000)
    z = decode_raw(encode_g711(y, encoding=encoding), encoding=encoding, sr=8000)
    snr = 10 * np.log10(np.sum(y.astype(np.float64) ** 2) / np.sum((y - z) ** 2.0))
    assert 30 < snr < 45  # G.711 gives about 38 dB on speech-level signals
    ramp = np.linspace(-1, 1, 20001)
    assert np.all(
        np.diff(decode_raw(encode_g711(ramp, encoding=encoding), encoding=encoding, sr=8000)) >= 0
    )  # companding is monotonic
    step = np.abs(
        ramp - decode_raw(encode_g711(ramp, encoding=encoding), encoding=encoding, sr=8000)
    )
    assert np.all(step <= np.maximum(np.abs(ramp) * 0.07, 0.001))


@pytest.mark.parametrize("encoding", ["pcm_s16le", "mulaw", "alaw"])
def test_raw_input(make_speech, encoding):
    y = make_speech(0.5, 8000)
    stereo = np.stack([y, y * 0.5])
    if encoding == "pcm_s16le":
        data = np.clip(np.round(stereo.T * 32768), -32768, 32767).astype("<i2").tobytes()
    else:
        data = encode_g711(stereo, encoding=encoding)
    fmt = RawFormat(encoding=encoding, sr=8000, channels=2)
    dec = decode_raw(data, encoding=encoding, sr=8000, channels=2)
    assert dec.shape == (2, y.size) and dec.dtype == np.float32
    audio = load_audio(data, raw=fmt, channel=1, sr=16000)
    assert (audio.container, audio.source_sr, audio.sr, audio.channels) == ("raw", 8000, 16000, 2)
    assert (
        audio.codec
        == {"pcm_s16le": "pcm_s16le", "mulaw": "pcm_mulaw", "alaw": "pcm_alaw"}[encoding]
    )
    assert audio.bit_depth == (16 if encoding == "pcm_s16le" else 8)
    native = load_audio(data + b"\x01", raw=fmt, channel=1)  # a dangling byte is dropped
    np.testing.assert_array_equal(native.samples, dec[1])
    assert np.corrcoef(native.samples, y)[0, 1] > 0.999


def test_raw_edge_cases():
    fmt = RawFormat(encoding="pcm_s16le", sr=8000)
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(b"", raw=fmt)
    with pytest.raises(AudioTooShortError):
        load_audio(b"\x01", raw=fmt)
    with pytest.raises(AudioTooLongError):
        load_audio(bytes(16000 * 2), raw=RawFormat(encoding="mulaw", sr=8000), max_seconds=1.0)
    for bad in ({"encoding": "pcm_s24le"}, {"sr": 0}, {"channels": 0}, {"channels": 10**6}):
        with pytest.raises(ParameterError):
            RawFormat(**{"encoding": "mulaw", "sr": 8000, **bad})
    with pytest.raises(ParameterError, match="'encoding'"):
        encode_g711(np.zeros(3), encoding="g722")
    with pytest.raises(ParameterError):
        encode_g711(np.array([0.0, np.nan]), encoding="mulaw")


# --------------------------------------------------------------------------- limits


def test_max_seconds_stops_decoding_early(monkeypatch):
    """The 3-hour FLAC bomb fails after decoding about max_seconds, not 3 hours."""
    seen = []
    push = aio._Sink.push

    def spy(self, block):
        seen.append(block.shape[0])
        return push(self, block)

    monkeypatch.setattr(aio._Sink, "push", spy)
    with pytest.raises(AudioTooLongError, match="max_seconds=60"):
        load_audio(FIXTURES / "hostile" / "bomb_3h.flac", max_seconds=60)
    decoded = sum(seen) / 8000
    assert 60 < decoded < 60 + aio._BLOCK_SAMPLES / 8000 + 1
    assert decoded < 3 * 3600 / 100


def test_max_seconds_on_pyav_path(make_speech, av_enc, monkeypatch):
    data = av_enc(make_speech(3.0, 16000), 16000, "mp3", "libmp3lame")
    seen = []
    push = aio._Sink.push
    monkeypatch.setattr(aio._Sink, "push", lambda s, b: (seen.append(b.shape[0]), push(s, b)))
    with pytest.raises(AudioTooLongError):
        load_audio(data, max_seconds=1.0)
    assert sum(seen) < 1.2 * 16000  # stopped within a frame or two of the limit
    assert load_audio(data, max_seconds=3.0).duration == pytest.approx(3.0, abs=0.01)


def test_max_bytes(tmp_path, make_speech, sf_enc):
    data = sf_enc(make_speech(0.5, 8000), 8000, "WAV", "PCM_16")
    path = tmp_path / "a.wav"
    path.write_bytes(data)
    for source in (data, path, io.BytesIO(data)):
        with pytest.raises(AudioTooLongError, match="max_bytes"):
            load_audio(source, max_bytes=len(data) - 1)
        assert (
            load_audio(
                source if not isinstance(source, io.BytesIO) else io.BytesIO(data),
                max_bytes=len(data),
            ).samples.size
            == 4000
        )
    assert load_audio(data, max_bytes=None).samples.size == 4000


# --------------------------------------------------------------------------- misc


def test_float_overrange_is_clipped(sf_enc):
    y = np.array([0.5, 3.0, -7.0, 0.0] * 100, dtype=np.float32)
    audio = load_audio(sf_enc(y, 8000, "WAV", "FLOAT"))
    assert audio.samples.max() == 1.0 and audio.samples.min() == -1.0
    assert audio.extra["clipped_samples"] == 200


def test_non_finite_samples_rejected(sf_enc):
    y = np.zeros(800, dtype=np.float32)
    y[10] = np.inf
    with pytest.raises(AudioDecodeError, match="non-finite"):
        load_audio(sf_enc(y, 8000, "WAV", "FLOAT"))


def test_unreadable_paths_name_the_file_and_the_problem(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioFileNotFoundError, match=rf"^{re.escape(str(missing))} does not exist"):
        load_audio(missing)
    with pytest.raises(NotAFileError, match="is a directory") as info:
        load_audio(tmp_path)
    assert info.value.code == "not_a_file" and isinstance(info.value, AudioDecodeError)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match=rf"^{re.escape(str(empty))} is empty"):
        load_audio(empty)


@pytest.mark.parametrize(
    "data",
    [b"# README\n\nplain text, not a recording\n" * 20, b"\x89PNG\r\n\x1a\n" + bytes(500)],
)
def test_non_audio_is_not_audio_in_one_sentence(tmp_path, data):
    path = tmp_path / "README.md"
    path.write_bytes(data)
    with pytest.raises(NotAudioError) as info:
        load_audio(path)
    msg = str(info.value)
    assert msg.startswith(f"{path} is not an audio file (") and msg.count(".") <= 2
    if data.startswith(b"#"):
        assert msg == f"{path} is not an audio file (no known audio format detected)."
    assert info.value.code == "not_audio"
    with pytest.raises(NotAudioError, match=r"^The input is not an audio file"):
        load_audio(data)


def test_corrupt_audio_is_a_decode_error_without_internals():
    with pytest.raises(AudioDecodeError) as info:
        load_audio(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    assert type(info.value) is AudioDecodeError and info.value.code == "audio_decode_error"
    assert "WAV" in str(info.value) and "0x" not in str(info.value)
    assert "soundfile" not in str(info.value) and "FFmpeg" not in str(info.value)


def test_codec_without_decoder_is_unsupported_format():
    fmt = struct.pack("<HHIIHH", 0x1234, 1, 8000, 16000, 2, 16)  # unknown WAV format tag
    data = b"\x01\x02" * 4000
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    wav = b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data
    with pytest.raises(UnsupportedFormatError, match="codec that cannot be decoded"):
        load_audio(wav)


@pytest.mark.parametrize(
    "kwargs",
    [{"sr": 0}, {"sr": True}, {"sr": 16000.0}, {"max_seconds": 0}, {"max_seconds": float("nan")},
     {"max_bytes": 0}, {"raw": "mulaw"}],
)  # fmt: skip
def test_bad_arguments(kwargs):
    with pytest.raises(ParameterError, match="parameter must be"):
        load_audio(b"RIFF", **kwargs)


def test_bad_sources():
    with pytest.raises(ParameterError, match="'source'"):
        load_audio(12345)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="binary mode"):
        load_audio(io.StringIO("RIFF...."))


def test_debug_log_names_decoder(caplog, make_speech, sf_enc):
    with caplog.at_level(logging.DEBUG, logger="audio_detect.audio.io"):
        load_audio(sf_enc(make_speech(0.2, 8000), 8000, "WAV", "PCM_16"))
    assert "via soundfile" in caplog.text


@pytest.mark.parametrize(
    ("suffix", "subtype"), [(".wav", "PCM_16"), (".flac", None), (".ogg", None)]
)
def test_save_audio_round_trip(tmp_path, make_speech, suffix, subtype):
    y = make_speech(0.5, 16000)
    path = tmp_path / f"out{suffix}"
    save_audio(path, y, sr=16000, subtype=subtype)
    audio = load_audio(path)
    assert audio.sr == 16000 and audio.samples.size == y.size
    assert audio.container == suffix[1:]
    assert np.corrcoef(audio.samples, y)[0, 1] > 0.99
    save_audio(tmp_path / "st.wav", np.stack([y, -y]), sr=16000)
    assert load_audio(tmp_path / "st.wav").channels == 2


def test_save_audio_rejects_bad_input(tmp_path):
    with pytest.raises(ParameterError, match="'path'"):
        save_audio(tmp_path / "x.mp4", np.zeros(10), sr=8000)
    with pytest.raises(ParameterError, match="'y'"):
        save_audio(tmp_path / "x.wav", np.array([0.0, np.nan]), sr=8000)
    with pytest.raises(ParameterError, match="'subtype'"):
        save_audio(tmp_path / "x.flac", np.zeros(10), sr=8000, subtype="FLOAT")
    with pytest.raises(ParameterError, match="'sr'"):
        save_audio(tmp_path / "x.wav", np.zeros(10), sr=0)


def test_committed_fixtures_load():
    a8 = load_audio(FIXTURES / "audio" / "bonafide_8k_hts1a.flac")
    assert (a8.sr, a8.codec, a8.container, a8.bit_depth) == (8000, "flac", "flac", 16)
    assert a8.duration == pytest.approx(3.0)
    a16 = load_audio(FIXTURES / "audio" / "bonafide_8k_hts1a.flac", sr=16000)
    assert a16.samples.size == 48000 and a16.source_sr == 8000


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most 100 bytes per read (like a socket)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        chunk = self._buf.read(min(len(b), 100))
        b[: len(chunk)] = chunk
        return len(chunk)


def test_short_reads_and_numpy_arguments(sf_enc):
    _, right, data = stereo_wav(sf_enc)
    got = load_audio(_Trickle(data), channel=np.int64(1), sr=np.int32(8000))
    np.testing.assert_array_equal(got.samples, load_audio(data, channel=1).samples)
    np.testing.assert_allclose(got.samples, right, atol=1 / 32768)
    with pytest.raises(ParameterError, match="'channel'"):
        load_audio(data, channel=np.int64(2))
    with pytest.raises(AudioTooLongError, match="more than"):
        load_audio(_Trickle(data), max_bytes=1000)
