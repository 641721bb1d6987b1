"""`python -m svc_py.state_dict_keys CONFIG.json [...]`: key names and shapes of svc's generator
(built from each so-vits-svc config) and of the discriminator, for comparison with upstream's
(test/fixtures/sovits_keys_*.json)."""
import sys

from .events import run_main


def main():
    from .sovits.config import read_config
    from .sovits.models import MultiPeriodDiscriminator, build_generator
    models = []
    for path in sys.argv[1:]:
        config = read_config(path)
        net = build_generator(config)
        disc = MultiPeriodDiscriminator(bool(config["model"].get("use_spectral_norm", False)))
        models.append({
            "config": path, "version": config["version"], "speech_encoder": config["speech_encoder"],
            "generator": [[k, list(v.shape)] for k, v in net.state_dict().items()],
            "discriminator": [[k, list(v.shape)] for k, v in disc.state_dict().items()],
        })
    return {"models": models}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
