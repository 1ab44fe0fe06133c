"""The one flow over a run directory, a module per step: train -> qat -> export -> validate; `pipeline` runs them
in a row, `own_model` starts from a user's model, `ensemble` and `tune` make the float model another way. The only
package that orchestrates: the CLI calls its steps, and nothing below imports them."""
