"""The open training corpus: real telephone-style speech plus locally generated spoofs.

Modules
-------
generators
    Plug-ins (``@register``) that plan and render items: the developers' corpus, Asterisk
    prompts, eSpeak NG, Flite, Festival, Piper, Kokoro, vocoder copy-synthesis, WORLD VC.
texts
    What the synthetic voices say.
postprocess
    The one nuisance-control chain applied to both classes.
splits
    Speaker- and system-disjoint train/dev/eval protocol, leave-family-out.
builder
    Plan, render (resumable, seeded, process pool), index: ``manifest.csv`` + ``protocols/``.
audit
    Nuisance-only classifier EER (should be near 50 %).

See ``docs/corpus.md`` for the recipe and the measured statistics.
"""
