"""The So-VITS-SVC trainer, `python -m svc_py.train` (svc train runs it). One file per concern:

- config.py       the named configs (tiny, standard) or a so-vits-svc config.json
- data.py         dataset clips in memory, random training windows, spectrogram and mel
- model.py        the discriminator for a config, and the VITS / HiFi-GAN losses
- checkpoints.py  G_/D_ checkpoints: atomic saves, resume, pretrained bases (--base)
- outputs.py      what a run folder shows a person: losses.json/.png, validation audio
- loop.py         main(): set up, then the training loop, read top to bottom
"""
