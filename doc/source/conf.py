# Sphinx configuration for migcompat's documentation.
project = 'migcompat'
copyright = 'migcompat developers'
extensions = [
    'cliff.sphinxext',          # CLI reference from the commands
    'oslo_config.sphinxext',    # configuration reference from the options
]
master_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
# Keep "--option" as typed in command help (no en dashes).
smartquotes = False
