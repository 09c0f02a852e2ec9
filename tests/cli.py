"""Run the real ``migcompat`` console script, as a user would."""

import os
import subprocess
import sys


def command():
    """The console script next to this interpreter (the venv's).

    Falls back to running the shell module with this interpreter, which
    is the same code when the script is not installed (a source tree).
    """
    script = os.path.join(os.path.dirname(sys.executable), 'migcompat')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'migcompat_filter.cmd.shell']


def run(*args, env=None, cwd=None, timeout=300):
    """(exit status, stdout, stderr) of ``migcompat ARGS``."""
    proc = subprocess.run(command() + list(args), capture_output=True,
                          text=True, timeout=timeout, cwd=cwd,
                          env=dict(os.environ, **(env or {})))
    return proc.returncode, proc.stdout, proc.stderr
