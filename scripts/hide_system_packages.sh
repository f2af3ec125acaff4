#!/usr/bin/env bash
# Run a command as on a machine without the optional Debian packages of the test suite:
#   sudo bash scripts/hide_system_packages.sh make test
# In a private mount namespace (unshare -m; needs root), the executables of sox, espeak-ng,
# flite, festival, ffmpeg, chromium and PostgreSQL are covered by /dev/null and the Asterisk
# prompt folders by empty tmpfs; AUDIO_DETECT_TEST_POSTGRES_URL is unset. Nothing changes
# outside the command (the packages stay installed for every other process).
set -euo pipefail
if [ "${1:-}" != "--inside" ]; then
  [ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARG...]" >&2; exit 2; }
  exec unshare -m --propagation private bash "$0" --inside "$@"
fi
shift
tools=(sox soxi play rec espeak-ng espeak flite flite_time festival text2wave ffmpeg ffprobe
       chromium chromium-browser chromedriver psql pg_ctl pg_ctlcluster pg_lsclusters
       pg_createcluster pg_isready postgres)
for t in "${tools[@]}"; do
  for dir in /usr/bin /usr/local/bin /bin /usr/sbin; do
    # (/bin is /usr/bin on Debian: the same file is covered twice, harmlessly)
    if [ -e "$dir/$t" ] && [ ! -c "$dir/$t" ]; then mount --bind /dev/null "$dir/$t"; fi
  done
done
for dir in /usr/lib/postgresql /usr/lib/chromium /usr/share/asterisk /usr/share/doc/asterisk-*; do
  if [ -d "$dir" ]; then mount -t tmpfs none "$dir"; fi
done
unset AUDIO_DETECT_TEST_POSTGRES_URL AUDIO_DETECT_CHROMIUM
hash -r
exec "$@"
