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

"""Errors a user can act on. The CLI prints their message, no traceback."""


class InputError(ValueError):
    """Bad input or usage (a path, a file's content, an option).

    The message names the input and what is wrong with it; the CLI exits
    with status 2.
    """


class FactorUnknown(Exception):
    """A factor cannot be read on this host; str(exc) says why.

    Part of the factor plugin API (also importable as
    ``migcompat_filter.factors.base.FactorUnknown``).
    """


class SourceError(FactorUnknown):
    """A file or libvirt document could not be read; says which and why."""


class TransientSourceError(SourceError):
    """A read failed for a cause that may pass by itself: libvirt
    unreachable or restarting, a timeout, permission denied on a file.

    ``migcompat profile publish`` keeps the last good value of a factor
    that fails this way (migcompat_filter.host.last_good) instead of
    publishing it as unknown.
    """
