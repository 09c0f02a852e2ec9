# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

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
# _generated/*.rst are included by pages, not pages themselves.
exclude_patterns = ['_generated/*.rst']
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
