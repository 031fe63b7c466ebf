"""The autopilot: ``kit play COMPETITION --budget 30m`` plays a whole competition within a wall-clock budget.

A competition declares its plan in the registry (``Competition.play``: a hook returning :class:`~common.play.steps.Step`
objects, each a weighted step of fold, trial or seed units run by the competition's own commands). The pilot
(:mod:`common.play.pilot`) gives each step the time left times its weight over the weights left, keeps a tail for the
blend, the final picks and the report, writes every choice to ``decisions.jsonl`` and resumes after a kill;
``--replay`` re-runs an earlier play's decisions with fixed counts instead of the clock (docs/play.md).
"""
