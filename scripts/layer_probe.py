"""Which Whisper-base hidden state tells unseen neural spoofs from genuine speech? A linear probe.

    python scripts/layer_probe.py extract --manifest data/corpus/manifest.csv --out runs/probe
    python scripts/layer_probe.py fit --out runs/probe

``extract`` cuts one 4 s speech window per file (the middle window of the served
detector's VAD and cutting, at 8 kHz), runs the frozen Whisper base encoder (stem, six
blocks, final layer norm) and stores the mean and standard deviation over time of every
hidden state: for the train split (each spoof system capped at 120 files), the dev split
and the ``modern`` protocol (``protocols/modern.csv`` beside the manifest). ``fit`` trains,
on the train split only, a standardised logistic regression (balanced classes) per hidden
state and on a few unions, and prints the EER on dev, on ``modern``, on ``modern`` without
the Italian Asterisk voice and on its neural TTS rows (with all bona fide rows). No
augmentation, clean audio: a comparison of the states, not a detector. Needs torch (the
``train`` extra) and the Whisper base wheels.
"""

from __future__ import annotations

import argparse
import collections
import csv
from pathlib import Path

import numpy as np

CAP_PER_SYSTEM = 120
GROUPS = ("train", "dev", "modern")


def _rows(manifest: Path, which: str) -> tuple[list[dict[str, str]], Path]:
    if which == "modern":
        path = manifest.parent / "protocols" / "modern.csv"
        return list(csv.DictReader(path.open(encoding="utf-8"))), path.parent
    rows = [r for r in csv.DictReader(manifest.open(encoding="utf-8")) if r["split"] == which]
    if which == "train":
        np.random.default_rng(0).shuffle(rows)  # type: ignore[arg-type]
        count: collections.Counter[str] = collections.Counter()
        keep = []
        for r in rows:
            if r["label"] == "bonafide" or count[r["system"]] < CAP_PER_SYSTEM:
                count[r["system"]] += 1
                keep.append(r)
        rows = keep
    return rows, manifest.parent


def extract(manifest: Path, out: Path, threads: int) -> None:
    import librosa
    import torch

    from audio_detect.classifiers.whisper_cm import WhisperCM
    from audio_detect.detector import Detector

    torch.set_num_threads(threads)
    det = Detector.load("whisper-cm-8k")  # its VAD and window cutting
    model = WhisperCM(encoder="whisper-base", n_blocks=6).eval()
    out.mkdir(parents=True, exist_ok=True)
    for which in GROUPS:
        rows, base = _rows(manifest, which)
        feats, meta = [], []
        for r in rows:
            y, _ = librosa.load(base / r["path"], sr=8000)
            w = det.speech_windows(y.astype(np.float32))
            if len(w.starts) == 0:
                continue
            s = int(w.starts[len(w.starts) // 2])
            x = w.speech[s : s + w.length]
            if len(x) < 8000:
                continue
            x = np.resize(x, 32000) if len(x) < 32000 else x
            with torch.no_grad():
                st = model.hidden_states(torch.from_numpy(x[None].astype(np.float32)))[:, 0]
            feats.append(torch.cat([st.mean(1), st.std(1)], dim=1).numpy())
            meta.append((r["label"], r["system"], r["source"], r["family"]))
        np.savez(out / f"{which}.npz", x=np.stack(feats), meta=np.array(meta))
        print(f"{which}: {len(feats)} of {len(rows)} files")


def fit(out: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from audio_detect.evaluation.metrics import compute_eer

    data = {k: np.load(out / f"{k}.npz") for k in GROUPS}

    def xy(k: str, layers: list[int]) -> tuple[np.ndarray, np.ndarray]:
        x = data[k]["x"][:, layers]
        return x.reshape(len(x), -1), (data[k]["meta"][:, 0] == "bonafide").astype(int)

    def eer(y: np.ndarray, s: np.ndarray) -> float:
        return 100 * compute_eer(y, s)[0]

    meta = data["modern"]["meta"]
    names = ["stem"] + [f"block {i}" for i in range(1, 6)] + ["block 6 + LN"]
    print("| states | C | dev | modern | without the Italian voice | neural TTS |")
    print("|---|---|---|---|---|---|")
    for c in (1e-3, 1e-2):
        for layers in ([0], [1], [2], [3], [4], [5], [6], [1, 2], [0, 1, 2, 3], list(range(7))):
            clf = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            )
            clf.fit(*xy("train", layers))
            xd, yd = xy("dev", layers)
            xm, ym = xy("modern", layers)
            sd, sm = clf.decision_function(xd), clf.decision_function(xm)
            keep = ~np.char.startswith(meta[:, 2].astype(str), "asterisk:it_IT_f_Menardi") | (
                ym == 0
            )
            tts = (meta[:, 3] == "neural-tts") | (ym == 1)
            what = " + ".join(names[i] for i in layers) if len(layers) < 7 else "all"
            print(
                f"| {what} | {c:g} | {eer(yd, sd):.1f} | {eer(ym, sm):.1f} | "
                f"{eer(ym[keep], sm[keep]):.1f} | {eer(ym[tts], sm[tts]):.1f} |"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=("extract", "fit"))
    ap.add_argument("--manifest", type=Path, default=Path("data/corpus/manifest.csv"))
    ap.add_argument("--out", type=Path, default=Path("runs/probe"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if args.step == "extract":
        extract(args.manifest, args.out, args.threads)
    else:
        fit(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
