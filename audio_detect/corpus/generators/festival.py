"""Festival voices installed from Debian (diphone, cluster-unit and HTS)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .._io import read_audio
from . import Item, register
from ._tts import TTSGenerator, Voice

VOICE_DIR = Path("/usr/share/festival/voices")
#: voice -> (family, languages, native rate, text encoding)
_VOICES: dict[str, tuple[str, tuple[str, ...], int, str]] = {
    "kal_diphone": ("unit-selection", ("en",), 16000, "latin-1"),
    "ked_diphone": ("unit-selection", ("en",), 16000, "latin-1"),
    "cmu_us_slt_arctic_hts": ("hmm-tts", ("en",), 32000, "latin-1"),
    "upc_ca_ona_hts": ("hmm-tts", ("ca",), 16000, "latin-1"),
    "lp_diphone": ("unit-selection", ("it",), 16000, "latin-1"),
    "pc_diphone": ("unit-selection", ("it",), 16000, "latin-1"),
    "msu_ru_nsh_clunits": ("unit-selection", ("ru",), 16000, "utf-8"),
    "czech_dita": ("unit-selection", ("cs",), 32000, "iso-8859-2"),
    "czech_ph": ("unit-selection", ("cs",), 44100, "iso-8859-2"),
    "suo_fi_lj_diphone": ("unit-selection", ("fi",), 22050, "latin-1"),
    "hy_fi_mv_diphone": ("unit-selection", ("fi",), 22050, "latin-1"),
}


@register
class FestivalGenerator(TTSGenerator):
    """``text2wave -eval (voice_X)`` for every installed Debian Festival voice we know."""

    name = "festival"
    family = "unit-selection"
    default_hours = 0.25
    smoke = False
    voices = tuple(
        Voice(f"festival:{v}", fam, v, langs, sr, 0.6 if fam == "hmm-tts" else 1.0)
        for v, (fam, langs, sr, _enc) in _VOICES.items()
    )

    def available(self) -> bool:
        return shutil.which("text2wave") is not None and bool(self.active_voices())

    def unavailable_reason(self) -> str:
        return "festival/text2wave or its voices not installed (apt-get install festival festvox-*)"

    def active_voices(self) -> tuple[Voice, ...]:
        if not VOICE_DIR.is_dir():
            return ()
        have = {p.name for p in VOICE_DIR.glob("*/*") if p.is_dir()}
        return tuple(v for v in self.voices if v.voice in have)

    def item_params(self, voice: Voice, rng: np.random.Generator) -> dict[str, object]:
        return {"voice": voice.voice, "stretch": round(float(rng.uniform(0.85, 1.2)), 3)}

    def generate(self, item: Item, *, seed: int) -> tuple[np.ndarray, int]:
        voice = item.params["voice"]
        enc = _VOICES[voice][3]
        text = item.text
        if voice == "msu_ru_nsh_clunits":
            # The Russian voice aborts on Latin letters, digits and typographic quotes.
            words = re.sub(r"[^А-Яа-яЁё .,!?-]", " ", text).split()
            text = " ".join(w for w in words if re.search(r"[А-Яа-яЁё]", w))
        with tempfile.TemporaryDirectory(prefix="festival") as tmp:
            txt = Path(tmp) / "in.txt"
            out = Path(tmp) / "o.wav"
            txt.write_bytes(text.encode(enc, errors="replace"))
            stretch = f"(Parameter.set 'Duration_Stretch {item.params['stretch']})"
            subprocess.run(
                [
                    "text2wave",
                    "-eval",
                    f"(voice_{voice})",
                    "-eval",
                    stretch,
                    "-o",
                    str(out),
                    str(txt),
                ],
                capture_output=True,
                timeout=300,
                check=True,
            )
            return read_audio(out)
