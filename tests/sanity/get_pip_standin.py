"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads.

ansible-test fetches that script from a CI file host our machines cannot
reach, and uses any file it finds at its cache path instead. This stand-in
bootstraps pip with the standard library's ensurepip, then runs
`pip install` with the arguments ansible-test gave the real script.
"""
import os
import subprocess
import sys

# Options of the real script that pip itself does not know.
SCRIPT_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
environment = dict(os.environ)
# ensurepip hides the machine's pip configuration (and with it the CA bundle
# of a TLS-inspecting proxy) by setting PIP_CONFIG_FILE=/dev/null.
environment.pop("PIP_CONFIG_FILE", None)
arguments = [argument for argument in sys.argv[1:] if argument not in SCRIPT_ONLY_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments, env=environment))
