"""``python -m audio_detect`` runs the CLI."""

from .cli import main

main()
