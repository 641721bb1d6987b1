"""so-vits-svc 4.1 cluster models (`logs/44k/kmeans_10000.pt`, written by cluster/train_cluster.py:
{speaker name: {"n_features_in_", "_n_threads", "cluster_centers_": ndarray [K, D]}}) read as data and
turned into a small ONNX graph, `cluster.onnx`, that the engine runs on content rows:

  inputs  c       f32 [T, D]   content rows (one per 20 ms)
          speaker i64 [1]      row of the speaker table (manifest.cluster.speakers)
          ratio   f32 [1]      cluster_infer_ratio, 0..1
  output  mixed   f32 [T, D]   ratio * nearest_center(c) + (1 - ratio) * c

as upstream's infer: `cluster_c = model[speaker].cluster_centers_[model[speaker].predict(c)]`, then
`c = ratio * cluster_c + (1 - ratio) * c`. KMeans.predict is the nearest centre in Euclidean distance:
argmin_k ||c||^2 - 2 c.C_k + ||C_k||^2 (the ||c||^2 term does not change the argmin and is left out)."""
import numpy as np
import torch

from . import safe_pickle
from .events import SvcPyError


def read_kmeans(path, speakers):
    """-> (speaker names in table order, centres float32 [S, K, D]). `speakers` is the config's spk
    table; every speaker of the model needs centres (upstream looks them up by speaker name)."""
    try:
        data = safe_pickle.load_torch_file(path, objects_as_data=True)
    except Exception as error:
        raise SvcPyError("MODEL_INVALID", f"{path} cannot be read as a so-vits-svc cluster model ({str(error)[:160]})",
                         "pass logs/44k/kmeans_10000.pt from so-vits-svc's cluster/train_cluster.py")
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) and "cluster_centers_" in v for v in data.values()):
        found = ", ".join(sorted(map(str, data))[:6]) if isinstance(data, dict) else type(data).__name__
        raise SvcPyError("MODEL_INVALID", f"{path} is not a so-vits-svc cluster model: expected {{speaker: {{cluster_centers_, ...}}}}, found {found}",
                         "pass kmeans_10000.pt or feature_and_index.pkl")
    names = [name for name in speakers if name in data]
    missing = [name for name in speakers if name not in data]
    if missing:
        raise SvcPyError("MODEL_INVALID", f"{path} has cluster centres for {', '.join(map(str, data))} but not for {', '.join(missing)}",
                         "train the cluster model on the same speakers as the generator (cluster/train_cluster.py)")
    centres = [torch.as_tensor(np.asarray(data[name]["cluster_centers_"]), dtype=torch.float32) for name in names]
    shapes = {tuple(c.shape) for c in centres}
    if len(shapes) != 1:
        raise SvcPyError("MODEL_INVALID", f"{path}: speakers have cluster tables of different shapes {sorted(shapes)}")
    return names, torch.stack(centres)


class ClusterMix(torch.nn.Module):
    def __init__(self, centres):
        super().__init__()
        self.register_buffer("centres", centres)  # [S, K, D]
        self.register_buffer("norms", (centres * centres).sum(-1))  # [S, K]

    def forward(self, c, speaker, ratio):
        table = self.centres[speaker[0]]  # [K, D]
        distance = self.norms[speaker[0]].unsqueeze(0) - 2.0 * torch.matmul(c, table.transpose(0, 1))  # [T, K]
        nearest = table[torch.argmin(distance, dim=1)]
        return ratio * nearest + (1.0 - ratio) * c


def export_cluster(centres, path):
    module = ClusterMix(centres).eval()
    example = (torch.randn(5, centres.shape[2]), torch.LongTensor([0]), torch.tensor([0.5]))
    with torch.no_grad():
        torch.onnx.export(module, example, path, input_names=["c", "speaker", "ratio"], output_names=["mixed"],
                          dynamic_axes={"c": {0: "T"}, "mixed": {0: "T"}}, opset_version=16)
    return module
