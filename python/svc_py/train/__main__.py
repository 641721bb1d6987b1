"""`python -m svc_py.train --dataset DATASET --out RUN ...`: see loop.py."""
from ..events import run_main
from .loop import main

raise SystemExit(run_main(main))
