"""The audio-detect screening service (FastAPI): ``api.main.create_app``; see docs/api.md."""
