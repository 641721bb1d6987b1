"""Training configs: 'tiny', 'small' and 'standard' by name, or any so-vits-svc config.json."""
import copy

from ..make_reference import STANDARD_CONFIG, tiny_config
from ..sovits.config import read_config, validate_config


def tiny_train_settings(config):
    """CPU-run training settings of tiny and small (why: load_config's comment on tiny)."""
    config["train"]["discriminator_scale"] = 0.125
    config["train"]["learning_rate"] = 5e-4
    config["train"]["c_stft"] = 15.0
    return config


def small_config():
    """The default config of `svc train`: 16 kHz, hop 320 (one model frame per row of the shipped
    content encoder svcphone40, 40 phone posteriors per 20 ms), sized between tiny (CI) and standard
    (so-vits-svc 4.1, 44.1 kHz, GPU-sized) so a multi-speaker base pretrains and a 2-minute voice
    fine-tunes on a CPU shared with other work."""
    config = tiny_train_settings(tiny_config())
    # Wider than tiny where it is cheap (the frame-rate text encoder, flow and speaker embedding:
    # they map content to the voice) and tiny's vocoder where it is not (it runs at the sample rate).
    config["model"].update({
        "inter_channels": 32, "hidden_channels": 64, "filter_channels": 160, "n_heads": 2, "n_layers": 3,
        "gin_channels": 64, "ssl_dim": 40, "n_speakers": 32, "speech_encoder": "svcphone40",
    })
    config["spk"] = {"small_a": 0}
    return config


def load_config(name):
    """'tiny' | 'small' | 'standard' | path to a so-vits-svc config.json -> validated config dict."""
    if name == "small":
        return validate_config(small_config())
    if name == "tiny":
        config = tiny_config()
        # The tiny model is for tests and smoke runs of a few hundred CPU steps: a 1/8-width
        # discriminator and a higher learning rate than upstream's 1e-4 make its losses move visibly,
        # and a multi-resolution STFT loss (svc's key train.c_stft; upstream configs leave it at 0)
        # rewards harmonics at the source's f0, which 80 mel bands cannot resolve. Without it the
        # young vocoder's cheapest fit to the mel loss is a 50 Hz frame-rate buzz (docs/training.md).
        return validate_config(tiny_train_settings(config))
    if name == "standard":
        return validate_config(copy.deepcopy(STANDARD_CONFIG))
    return read_config(name)
