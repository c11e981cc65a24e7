"""The one way Vetted runs a model's own code: a script in a bubblewrap sandbox, under limits.

Loading a model runs its author's code (pickle, custom pyfunc classes, `code_paths`), so the
load check and every evaluation hand a script and a private copy of the files to `run_script()`.
This package imports no Django: callers pass the limits and receive one parsed result.
"""
