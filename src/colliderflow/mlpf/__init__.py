"""MLPF: a transformer that turns tracks and calorimeter clusters into particle candidates.

``model`` holds the network (:class:`MLPF`, :class:`MLPFConfig`, :class:`FeatureScaler`),
``files`` the model and checkpoint file format, ``loss`` the per-element training loss of
section 5.3 of the CMS MLPF paper, ``train`` the trainer, ``infer`` inference, and ``export`` the
ONNX export and an ONNX Runtime wrapper (onnx and onnxruntime are imported only when used).
Needs the ``ml`` extra.
"""

from colliderflow.mlpf.export import OnnxMLPF, export_onnx
from colliderflow.mlpf.files import load_model, save_model
from colliderflow.mlpf.loss import LossConfig, mlpf_loss
from colliderflow.mlpf.model import MLPF, FeatureScaler, MLPFConfig, count_parameters

__all__ = ["MLPF", "MLPFConfig", "FeatureScaler", "count_parameters", "LossConfig", "mlpf_loss",
           "export_onnx", "OnnxMLPF", "load_model", "save_model"]
