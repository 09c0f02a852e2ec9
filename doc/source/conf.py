# Sphinx configuration for migcompat's documentation.
import os
import sys

# The project's own extension (doc/source/_ext) draws the example
# pictures from the demo data at build time.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '_ext'))

project = 'migcompat'
copyright = 'migcompat developers'
extensions = [
    'openstackdocstheme',       # the theme every OpenStack project uses
    'cliff.sphinxext',          # CLI reference from the commands
    'oslo_config.sphinxext',    # configuration reference from the options
    'migcompat_pictures',       # heat map and graph of the demo fleet
]
master_doc = 'index'
exclude_patterns = []
html_theme = 'openstackdocs'
# openstackdocstheme: where the sources and the bugs live.
openstackdocs_repo_name = 'openstack/migcompat'
openstackdocs_bug_project = 'migcompat'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False
openstackdocs_pdf_link = False
# Keep "--option" as typed in command help (no en dashes).
smartquotes = False
# Pictures shrink to the page width (doc/source/_static/migcompat.css).
html_static_path = ['_static']
html_css_files = ['migcompat.css']
