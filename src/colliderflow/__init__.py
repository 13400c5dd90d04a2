"""colliderflow: machine-learned event reconstruction and simulation for hadron colliders.

Data flows one way through the subpackages::

    generate -> simulate -> target -> dataset -> {pf, mlpf} -> physics -> evaluate

on a ground floor that imports none of them: ``schema`` (the element, class and candidate
vocabulary every stage speaks) and ``utils``.

Units everywhere: energies and momenta in GeV, lengths in cm, times in ns, angles in rad.
"""

__version__ = "0.1.0"
