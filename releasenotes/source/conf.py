# Sphinx configuration for migcompat's release notes (reno).
project = 'migcompat release notes'
copyright = 'migcompat developers'
extensions = ['reno.sphinxext']
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
