"""MLPF: a transformer that turns tracks and calorimeter clusters into particle candidates.

``model`` holds the network (:class:`MLPF`, :class:`MLPFConfig`, :class:`FeatureScaler`),
``files`` the model and checkpoint file format, ``loss`` the per-element training loss of
section 5.3 of the CMS MLPF paper, ``train`` the trainer, ``infer`` inference, and ``export`` the
ONNX export and an ONNX Runtime wrapper (onnx and onnxruntime are imported only when used).
Needs the ``ml`` extra.
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "model": ["MLPF", "MLPFConfig", "FeatureScaler", "count_parameters"],
    "loss": ["LossConfig", "mlpf_loss"],
    "export": ["export_onnx", "OnnxMLPF"],
    "files": ["load_model", "save_model"],
    "infer": ["InferenceConfig", "Predictor"],
    "train": ["TrainConfig", "load_train_config"],
})
