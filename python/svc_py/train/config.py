"""Training configs: 'tiny' and 'standard' by name, or any so-vits-svc config.json."""
import copy

from ..make_reference import STANDARD_CONFIG, tiny_config
from ..sovits.config import read_config, validate_config


def load_config(name):
    """'tiny' | 'standard' | path to a so-vits-svc config.json -> validated config dict."""
    if name == "tiny":
        config = tiny_config()
        # The tiny model is for tests and smoke runs of a few hundred CPU steps: a 1/8-width
        # discriminator and a higher learning rate than upstream's 1e-4 make its losses move visibly,
        # and a multi-resolution STFT loss (svc's key train.c_stft; upstream configs leave it at 0)
        # rewards harmonics at the source's f0, which 80 mel bands cannot resolve. Without it the
        # young vocoder's cheapest fit to the mel loss is a 50 Hz frame-rate buzz (docs/training.md).
        config["train"]["discriminator_scale"] = 0.125
        config["train"]["learning_rate"] = 5e-4
        config["train"]["c_stft"] = 15.0
        return validate_config(config)
    if name == "standard":
        return validate_config(copy.deepcopy(STANDARD_CONFIG))
    return read_config(name)
