"""The audio-detect screening service (FastAPI): ``audio_detect_service.main.create_app``.

Installed and imported as ``audio_detect_service``; its source directory is ``api/``
(pyproject.toml maps the one to the other). See docs/api.md.
"""
