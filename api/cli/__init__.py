"""The service's commands of the ``audio-detect`` CLI: ``serve``, ``keys``, ``audit``.

They start or administer the screening service, so they live in the service package;
the library's CLI (:mod:`audio_detect.cli`) does not import them. It finds them through
the ``audio_detect.commands`` entry point group (``pyproject.toml``)::

    serve = "audio_detect_service.cli.serve:serve"        # a command
    keys  = "audio_detect_service.cli.keys:keys_app"      # a typer group
    audit = "audio_detect_service.cli.audit:audit_app"    # a typer group

Each module imports only typer at load time (``audio-detect score`` stays fast); the
service itself (FastAPI, the store) is imported when a command runs.
"""
