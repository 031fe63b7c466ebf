"""Synthetic Nexperia data: images and CSVs in the 2020 contest layout, with planted truth.

``python -m competitions.nexperia.synth --out data/nexperia`` or ``generate(out, ...)``.
``<out>/_truth.csv`` (outside the contest layout) holds every image's true label, defect type and box,
which train labels were flipped to good, and the planted duplicate groups.
"""
from competitions.nexperia.synth.writer import generate

__all__ = ["generate"]
