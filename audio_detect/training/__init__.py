"""Training of the neural countermeasures (needs the ``train`` extra: torch, torchaudio, onnx).

Modules: :mod:`.config` (TrainConfig), :mod:`.seed`, :mod:`.augment`, :mod:`.data`,
:mod:`.losses`, :mod:`.models`, :mod:`.loop`, :mod:`.export`, :mod:`.card` and
:mod:`.pipeline` (one-command train -> export -> calibrate); :mod:`.classic` trains the
classic LFCC-GMM. Nothing is imported here, so ``import audio_detect.training`` stays
cheap and torch-free.
"""
