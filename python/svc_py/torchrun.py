"""`python -m svc_py.torchrun --nproc_per_node N -m svc_py.train ...`: torch.distributed.run
(torchrun) with one fix. Debian's torch 1.13 on Python 3.11 fails before starting any worker:
Std.from_str("0") looks the value up by iterating the IntFlag, and Python 3.11 no longer yields
the zero member NONE (nor the composite ALL) when iterating a flag, so every launch dies with
"'NoneType' object has no attribute 'get'". Looking members up by value works on every Python."""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def _std_from_str(vm):
    if re.fullmatch(r"[0-3]", vm):
        return api.Std(int(vm))
    if re.fullmatch(r"(\d:[0-3],)*\d:[0-3]", vm):
        return {int(i): api.Std(int(v)) for i, v in (pair.split(":") for pair in vm.split(","))}
    raise ValueError(f"{vm} does not match: <0|1|2|3> or <local_rank:0|1|2|3,...>")


api.Std.from_str = staticmethod(_std_from_str)

if __name__ == "__main__":
    from torch.distributed.run import main
    sys.argv[0] = "torchrun"
    main()
