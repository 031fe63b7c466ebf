"""``kit play``: the autopilot's pilot (:mod:`kit.play.pilot`), its tail (:mod:`kit.play.tail`) and its command line
(:mod:`kit.play.__main__`); the parts a competition's plan is made of live in :mod:`common.play`."""
