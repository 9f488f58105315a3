"""jitc: a JIT compiler for model code written in plain NumPy."""
