"""The IR: types, graphs, the op table, text form, verifier, interpreter, passes."""
