"""FlashSim: learned end-to-end simulation from generator objects to NanoAOD-like objects.

Modules follow the data flow: ``sources`` (which generator object or event each reconstructed
object comes from, conditioning features), ``transforms`` (invertible target transforms with
dequantisation), ``nets`` (multiplicity classifiers, flow-matching vector fields), ``event``
(MET and PV models), ``bundle`` (the trained-model file and what each model predicts),
``train``, ``ode`` (solvers), ``sample`` (simulation with oversampling),
``stats`` (fold-aware histograms for oversampled samples), ``metrics`` and ``validate``
(Flash versus Full: ``validate.validate``; the package attribute ``validate`` stays the module).
"""

from colliderflow.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "sample": ["FlashSim", "SampleConfig", "sample_file"],
    "train": ["FlashSimTrainConfig", "train_flashsim"],
    "validate": ["ValidateConfig"],
    "bundle": ["read_bundle", "save_bundle"],
})
