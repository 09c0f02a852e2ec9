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

"""The package's shape: no import cycle, small modules, nova kept in place.

Read from the source (AST), not by importing, so function-level imports
count too: a cycle hidden inside a function is still a cycle.
"""

import ast
import os

import testtools

import migcompat_filter

PACKAGE_DIR = os.path.dirname(migcompat_filter.__file__)
PACKAGE = 'migcompat_filter'
MAX_LINES = 500
#: Only these parts of the package import nova or placement at run time.
NOVA_USERS = (PACKAGE + '.scheduler', PACKAGE + '.demo')
#: At most this many modules at the top level besides __init__: only what
#: every layer shares.
MAX_TOP_LEVEL = 10

#: The steps of the flow, lowest first: a module may import its own rank
#: and lower ranks, never a higher one (doc/source/contributor/layout.rst).
#: The top-level modules (profile, exception, cpu_modes, redaction) are
#: rank 0 with cpu/.
LAYERS = (
    ('', 'cpu'),
    ('host', 'factors'),
    ('traits', 'rules', 'conf'),
    ('placement', 'pictures'),
    ('scheduler', 'fleet'),
    ('cmd', 'demo'),
)
#: Same-rank folders that must not import each other, as (importer,
#: imported): rules judge profiles and know nothing of how they were
#: encoded or stored.
FORBIDDEN = (('rules', 'traits'), ('rules', 'placement'),
             ('rules', 'scheduler'), ('traits', 'rules'),
             ('pictures', 'placement'), ('fleet', 'scheduler'),
             ('scheduler', 'fleet'))
#: Allowed upward imports, each with its reason.
EXCEPTIONS = {
    # A Profile checks its factor names against the catalogue, which is
    # plain data (one row per factor) and imports no reader.
    (PACKAGE + '.profile', PACKAGE + '.factors.catalogue'),
}


def _modules():
    """{module name: path} for every module of the package."""
    found = {}
    for root, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, os.path.dirname(PACKAGE_DIR))
            mod = rel[:-3].replace(os.sep, '.')
            if mod.endswith('.__init__'):
                mod = mod[:-len('.__init__')]
            found[mod] = path
    return found


def _imports(mod, path, modules):
    """Every module of ours that mod imports, anywhere in its body."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    is_pkg = path.endswith('__init__.py')
    out = set()

    def resolve(name):
        # "a.b.c" may be a module or a name inside module "a.b".
        while name and name not in modules:
            name = name.rpartition('.')[0]
        return name or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    out.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = mod.split('.')
                if not is_pkg:
                    parts = parts[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = '.'.join(parts + ([base] if base else []))
            for alias in node.names:
                target = resolve(base + '.' + alias.name) or resolve(base)
                if target:
                    out.add(target)
        elif (isinstance(node, ast.Call) and
              getattr(node.func, 'attr', None) == 'import_module' and
              node.args and isinstance(node.args[0], ast.Constant) and
              isinstance(node.args[0].value, str)):
            target = resolve(node.args[0].value)
            if target:
                out.add(target)
    out.discard(mod)
    # Importing a.b.c runs a and a.b first: a package is not a cycle with
    # its own children unless it imports them back.
    return out


def _graph():
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {m: WHITE for m in graph}
    stack = []

    def visit(m):
        colour[m] = GREY
        stack.append(m)
        for n in sorted(graph[m]):
            if colour.get(n) == GREY:
                return stack[stack.index(n):] + [n]
            if colour.get(n) == WHITE:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        colour[m] = BLACK
        return None

    for m in sorted(graph):
        if colour[m] == WHITE:
            found = visit(m)
            if found:
                return found
    return None


def _folder(mod):
    """The step a module belongs to: its first folder, '' at top level."""
    parts = mod.split('.')[1:]
    if not parts:
        return ''
    path = os.path.join(PACKAGE_DIR, *parts)
    if len(parts) == 1 and not os.path.isdir(path):
        return ''
    return parts[0]


def _rank(folder):
    for rank, folders in enumerate(LAYERS):
        if folder in folders:
            return rank
    return None


def _layer_violations(graph, folder=_folder):
    """Every import that goes up the layers or across a forbidden pair."""
    bad = []
    for mod, targets in graph.items():
        src = folder(mod)
        for target in targets:
            dst = folder(target)
            if (mod, target) in EXCEPTIONS or src == dst:
                continue
            up = (_rank(src) is None or _rank(dst) is None or
                  _rank(dst) > _rank(src))
            if up or (src, dst) in FORBIDDEN:
                bad.append('%s -> %s' % (mod, target))
    return sorted(bad)


class LayoutTest(testtools.TestCase):

    def test_every_folder_has_a_layer(self):
        folders = {_folder(m) for m in _modules()}
        self.assertEqual(set(), {f for f in folders if _rank(f) is None})

    def test_no_lower_layer_imports_a_higher_one(self):
        self.assertEqual([], _layer_violations(_graph()))

    def test_the_layer_check_finds_an_upward_import(self):
        # The check itself must be able to fail: a trait codec module that
        # imports the scheduler, rules that read Placement, a host reader
        # that imports the CLI.
        graph = {
            PACKAGE + '.traits.codec': {PACKAGE + '.scheduler.state'},
            PACKAGE + '.rules.cpu': {PACKAGE + '.placement.client'},
            PACKAGE + '.host.source': {PACKAGE + '.cmd.common'},
            PACKAGE + '.cmd.common': {PACKAGE + '.host.source'},
        }
        self.assertEqual(
            [PACKAGE + '.host.source -> ' + PACKAGE + '.cmd.common',
             PACKAGE + '.rules.cpu -> ' + PACKAGE + '.placement.client',
             PACKAGE + '.traits.codec -> ' + PACKAGE + '.scheduler.state'],
            _layer_violations(graph,
                              folder=lambda m: m.split('.')[1]))

    def test_few_top_level_modules(self):
        top = sorted(m for m in _modules() if _folder(m) == '' and
                     m != PACKAGE)
        self.assertLessEqual(len(top), MAX_TOP_LEVEL, top)

    def test_tools_are_not_installed(self):
        # The rolling-upgrade simulator is a benchmark's model, not runtime
        # code: it lives under tools/.
        self.assertFalse(os.path.exists(os.path.join(PACKAGE_DIR, 'sim')))

    def test_no_import_cycle(self):
        cycle = _cycle(_graph())
        self.assertIsNone(cycle, 'import cycle: %s'
                          % ' -> '.join(cycle or ()))

    def test_the_cycle_check_finds_a_cycle(self):
        # The check itself must be able to fail.
        self.assertEqual(['a', 'b', 'a'],
                         _cycle({'a': {'b'}, 'b': {'a'}}))

    def test_no_module_over_500_lines(self):
        big = {}
        for mod, path in _modules().items():
            with open(path, encoding='utf-8') as f:
                lines = f.readlines()
            # The license header is not the module's size.
            header = 0
            while header < len(lines) and (lines[header].startswith('#') or
                                           not lines[header].strip()):
                header += 1
            n = len(lines) - header
            if n > MAX_LINES:
                big[mod] = n
        self.assertEqual({}, big)

    def test_only_the_scheduler_and_demo_import_nova(self):
        users = []
        for mod, path in _modules().items():
            if mod.startswith(NOVA_USERS):
                continue
            with open(path, encoding='utf-8') as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level:
                    names = [node.module or '']
                if any(n.split('.')[0] in ('nova', 'placement')
                       for n in names):
                    users.append(mod)
        self.assertEqual([], sorted(set(users)))

    def test_no_command_module_imports_another(self):
        graph = _graph()
        cmds = {m for m in graph if m.startswith(PACKAGE + '.cmd.')}
        shared = {PACKAGE + '.cmd.common', PACKAGE + '.cmd.columns',
                  PACKAGE + '.cmd.shell', PACKAGE + '.cmd.entry_points'}
        crossing = sorted('%s -> %s' % (m, n) for m in cmds - shared
                          for n in graph[m] & cmds - shared)
        self.assertEqual([], crossing)
