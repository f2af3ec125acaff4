"""The one exception hierarchy of audio-detect.

Every error the library raises on purpose derives from :class:`AudioDetectError`.
Mapping to HTTP status codes lives only in ``api/errors.py``; each class carries a
stable machine-readable ``code`` that the API and the CLI report.
"""

from __future__ import annotations

__all__ = [
    "AudioDecodeError",
    "AudioDetectError",
    "AudioFileNotFoundError",
    "AudioTooLongError",
    "AudioTooShortError",
    "ChannelUnavailableError",
    "DatasetFormatError",
    "EmptyAudioError",
    "IncompatibleModelError",
    "ManifestError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "NotAFileError",
    "NotAudioError",
    "NotEnoughSpeechError",
    "ParameterError",
    "UnsupportedFormatError",
]


class AudioDetectError(Exception):
    """Root of every error raised on purpose by audio-detect."""

    code: str = "audio_detect_error"


class ParameterError(AudioDetectError, ValueError):
    """A parameter has an invalid value.

    Messages follow scikit-learn's template: name the parameter, the allowed
    values and what was given.
    """

    code = "invalid_parameter"

    @classmethod
    def invalid(cls, name: str, allowed: str, got: object) -> ParameterError:
        """Build ``The 'name' parameter must be <allowed>. Got <got> instead.``"""
        return cls(f"The {name!r} parameter must be {allowed}. Got {got!r} instead.")


class AudioDecodeError(AudioDetectError):
    """The input could not be decoded as audio (corrupt, truncated, not audio)."""

    code = "audio_decode_error"


class UnsupportedFormatError(AudioDecodeError):
    """The container is recognised but holds no audio stream, or a codec with no decoder."""

    code = "unsupported_format"


# The subclasses below tell *why* an input is not decodable. They derive from
# AudioDecodeError so that ``except AudioDecodeError`` still catches them all.
class AudioFileNotFoundError(AudioDecodeError):
    """The path given as audio does not exist."""

    code = "file_not_found"


class NotAFileError(AudioDecodeError):
    """The path given as audio is a directory (or another non-regular file)."""

    code = "not_a_file"


class EmptyAudioError(AudioDecodeError):
    """The input has zero bytes."""

    code = "empty_input"


class NotAudioError(AudioDecodeError):
    """No known audio container or codec was detected in the input (text, an image, noise...)."""

    code = "not_audio"


class AudioTooLongError(AudioDetectError):
    """The audio exceeds the configured duration or size limit.

    Raised while decoding, as soon as the limit is crossed, never after
    decoding everything.
    """

    code = "audio_too_long"


class AudioTooShortError(AudioDetectError):
    """The audio holds fewer samples than any analysis needs."""

    code = "audio_too_short"


class NotEnoughSpeechError(AudioDetectError):
    """Too little speech was found to give a verdict.

    The detector normally reports this as a ``not_enough_speech`` verdict; this
    exception is for callers that ask for a hard failure instead.
    """

    code = "not_enough_speech"


class ChannelUnavailableError(AudioDetectError):
    """A channel simulation stage needs an encoder or tool that is not installed."""

    code = "channel_unavailable"


class DatasetFormatError(AudioDetectError, ValueError):
    """A protocol, manifest or score file is malformed; the message names file and line."""

    code = "dataset_format_error"


class ModelNotFoundError(AudioDetectError, LookupError):
    """No model of that name or path exists."""

    code = "model_not_found"


class ModelIntegrityError(AudioDetectError):
    """A model file is missing or its sha256 does not match the manifest (tampered or corrupt)."""

    code = "model_integrity_error"


class IncompatibleModelError(AudioDetectError):
    """A model directory is of a format or version this library cannot run."""

    code = "incompatible_model"


class ManifestError(IncompatibleModelError):
    """A model manifest is malformed or its fields contradict each other.

    The message names the file, the field(s) and the values; :attr:`path` and
    :attr:`field` carry the first two for programs.
    """

    code = "incompatible_model"

    def __init__(self, message: str, *, path: object = None, field: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.field = field
