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

"""Keep a compute node's migcompat traits current in Placement.

Placement's ``PUT /resource_providers/{uuid}/traits`` replaces *all* of a
provider's traits, and nova-compute writes the same provider for traits of
its own. So :func:`sync` reads the traits and generation, changes only the
traits under our prefix (``CUSTOM_MIGCOMPAT_``), writes once with that
generation, and on 409 Conflict re-reads and tries again. A trait without
our prefix is copied through untouched, whoever set it; a trait *with* our
prefix that we did not compute (stale, or set by hand) is removed, since
the prefix is ours. An unchanged host costs one GET and no write.

:func:`write_provider_config` is the alternative for sites that do not let
anything but nova write Placement: nova's provider config file, which
nova-compute reads when it starts.
"""

import contextlib
import logging
import os
import random
import re
import stat
import tempfile
import time

import yaml

from migcompat_filter.exception import InputError
from migcompat_filter.placement import change_marker
from migcompat_filter.placement import client as placement
from migcompat_filter.placement import store as store_mod
from migcompat_filter.placement import store_writes
from migcompat_filter.traits import codec as traits_mod
from migcompat_filter.traits import schema3

LOG = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 5
#: New names are looked up with one listing when there are more than
#: this many (a microcode update adds 2: its value and the new digest).
LIST_BEYOND = 2


class SyncResult(object):
    """What a sync found and did."""

    def __init__(self, provider, added, removed, created, generation,
                 attempts, dry_run, written, records=()):
        self.provider = provider
        self.added = sorted(added)
        self.removed = sorted(removed)
        #: Trait names that did not exist in Placement and were created.
        self.created = sorted(created)
        self.generation = generation
        #: Reads of the provider (1 + conflicts retried).
        self.attempts = attempts
        self.dry_run = dry_run
        self.written = written
        #: Digests of the schema-3 records this sync wrote to the store.
        self.records = sorted(records)

    @property
    def changed(self):
        return bool(self.added or self.removed)

    def lines(self):
        """Human-readable change, one trait per line (``+``/``-``)."""
        out = ['+ %s' % t for t in self.added]
        out += ['- %s' % t for t in self.removed]
        return out

    def __repr__(self):
        return ('SyncResult(+%d -%d created=%d attempts=%d written=%s)'
                % (len(self.added), len(self.removed), len(self.created),
                   self.attempts, self.written))


class DeadlineExceeded(placement.PlacementError):
    """The report's overall deadline passed; the provider was not written
    (or, when it passed during the one write, that write either took
    effect whole or not at all: a trait PUT is atomic).
    """


class Deadline(object):
    """An overall bound, in seconds, on the Placement calls of one report
    (``request_timeout`` bounds each request, not the many a fresh host
    makes).

    Each call is given at most the time left: the session's per-request
    timeout is capped at it while the call runs (keystoneauth applies
    ``Session.timeout`` to every request that does not set its own), and
    no call starts once the deadline has passed.
    """

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self):
        return self._end - self._clock()

    def check(self, what):
        """Raise DeadlineExceeded unless time is left for ``what``."""
        if self.remaining() <= 0:
            raise DeadlineExceeded(
                'report deadline of %g s passed before %s; nothing more '
                'was written (raise [migcompat] report_deadline, or check '
                'why placement answers slowly)' % (self.seconds, what))

    def call(self, client, what, func, *args, **kwargs):
        """func(*args, **kwargs), a call of client, within the deadline."""
        self.check(what)
        try:
            with _bounded(client, self._end):
                return func(*args, **kwargs)
        except placement.Conflict:
            raise
        except placement.PlacementError as e:
            if self.remaining() <= 0:
                raise DeadlineExceeded(
                    'report deadline of %g s passed during %s: %s'
                    % (self.seconds, what, e)) from None
            raise


class _NoDeadline(object):
    """Deadline's interface without a bound (a caller that gives none)."""

    def check(self, what):
        pass

    def call(self, client, what, func, *args, **kwargs):
        return func(*args, **kwargs)


@contextlib.contextmanager
def _bounded(client, end):
    """Run with client's own deadline (placement.PlacementClient caps each
    request's timeout at the time left, and sends nothing after it) set to
    end, unless the client already has an earlier one.
    """
    if not hasattr(client, 'deadline'):
        yield  # a client without deadlines (tests' fakes)
        return
    before = client.deadline
    client.deadline = end if before is None else min(before, end)
    try:
        yield
    finally:
        client.deadline = before


def _check_wanted(wanted):
    wanted = set(wanted)
    for t in wanted:
        if not traits_mod.is_ours(t):
            raise InputError('refusing to publish %r: only traits under '
                             '%s are ours to set' % (t, traits_mod.PREFIX))
        if not traits_mod.is_valid_name(t):
            raise InputError('refusing to publish %r: not a valid trait '
                             'name' % t)
    return wanted


def _backoff(attempt):
    """Wait a random moment before re-reading after a 409: two writers
    that retry at once would otherwise collide again in lock step.
    """
    time.sleep(random.uniform(0, min(1.0, 0.01 * 2 ** attempt)))


def _missing(client, deadline, names):
    """The names among these that Placement does not know yet, sorted.

    One listing (PlacementClient.existing_traits) instead of a
    ``PUT /traits/NAME`` per name: on a first report of schema 2 (about
    300 names, nearly all of them set by other hosts already) that is 1-2
    requests instead of 300. A client without the listing (an older
    stand-in) gets every name, and creating an existing name is harmless.
    """
    existing = getattr(client, 'existing_traits', None)
    if existing is None or len(names) <= LIST_BEYOND:
        # Creating one or two names costs no more than asking about them.
        return sorted(names)
    known = deadline.call(client, 'listing trait names', existing,
                          sorted(names))
    return sorted(set(names) - set(known))


def _with_note(wanted, records, note):
    """wanted and records with the note record in place of any other."""
    if records is None:
        raise InputError('a note needs schema 3 (its record lives in the '
                         'migcompat store)')
    wanted = {t for t in wanted
              if not t.startswith(traits_mod.PREFIX + 'NOTE_')}
    records = dict(records)
    if note:
        rec = schema3.make_record(schema3.NOTE,
                                  {'kind': schema3.NOTE, 'note': note})
        records[rec.digest] = rec
        wanted.add(schema3.record_trait(rec))
    return wanted, records


def _ensure_records(client, records, added, deadline, readable):
    """Write the records the added traits point at that the store lacks
    (1 listing, then 2 requests per new provider); the digests written.
    """
    needed = {d: records[d] for d in schema3.referenced(added)
              if d in records}
    if not needed:
        return []
    store = store_mod.read(store_mod.client_get(client, deadline))
    written = store_writes.ensure(client, needed, store, deadline)
    for digest in written if readable else ():
        rec = needed[digest]
        if rec.kind == schema3.PROFILE:
            sync(client, schema3.root_uuid(rec.kind, digest),
                 store_mod.readable_names(rec), deadline=deadline)
    return written


def sync(client, provider_uuid, wanted, dry_run=False,
         max_retries=DEFAULT_MAX_RETRIES, deadline=None, note=None,
         records=None, readable=False):
    """Make our traits on the provider exactly ``wanted``.

    Traits without our prefix are never removed or altered; every trait of
    ours not wanted goes in the same write (so an upgrade to schema 3
    replaces the old schema-1/2 traits in one PUT). Schema 3: the records
    the traits point at (``records``, by default ``wanted.records`` of
    traits.codec.encode) are written to the migcompat store first, once
    per distinct content (store.ensure); ``note`` (a JSON-able dict, {}
    for none) becomes the host's note record; ``readable`` puts schema
    2's names of a new profile on its record's root. Trait names that
    are new to Placement (found with one listing) are created before the
    one write, except when every record the traits point at was stored
    already: their names exist then (the profile's first report created
    both), so the write goes first and a "no such trait" answer makes the
    listing and the creations happen after all. An unchanged host costs 1
    request; a first report whose records exist 4 (traits, store, write,
    the change marker's rename). Raises
    :class:`~migcompat_filter.placement.client.PlacementError` when Placement
    fails or the conflicts outlast ``max_retries``, and
    :class:`DeadlineExceeded` when ``deadline`` (a :class:`Deadline`)
    passes; nothing is half-written then (the provider write is a single
    request).
    """
    if records is None:
        records = getattr(wanted, 'records', None)
    if note is not None:
        wanted, records = _with_note(wanted, records, note)
    wanted = _check_wanted(wanted)
    deadline = deadline or _NoDeadline()
    created = set()
    ensured = set()
    stored = None
    attempts = 0
    recreated = False
    guess = records is not None  # schema 3: names may exist with records
    while True:
        attempts += 1
        current, generation = deadline.call(
            client, 'reading the traits of %s' % provider_uuid,
            client.get_traits, provider_uuid)
        ours = {t for t in current if traits_mod.is_ours(t)}
        added = wanted - current
        removed = ours - wanted
        if not added and not removed or dry_run:
            return SyncResult(provider_uuid, added, removed, created,
                              generation, attempts, dry_run, False)
        if records and stored is None:
            stored = _ensure_records(client, records, added, deadline,
                                     readable)
        if not (guess and not stored):
            for name in _missing(client, deadline, added - ensured):
                if deadline.call(client, 'creating trait %s' % name,
                                 client.create_trait, name):
                    created.add(name)
        ensured.update(added)
        new = (current - removed) | added
        try:
            generation = deadline.call(
                client, 'writing the traits of %s' % provider_uuid,
                client.put_traits, provider_uuid, new, generation)
        except placement.NoSuchTrait:
            if guess and not stored:
                # A name we took for existing is new (a TSC bucket no host
                # had yet): list and create them, then write.
                guess = False
                ensured.clear()
                continue
            # A name created above was deleted before the write (``trait
            # prune`` between the two): create the names again, once.
            if recreated:
                raise
            recreated = True
            ensured.clear()
            LOG.info('a trait name was deleted under the report of %s; '
                     'creating it again', provider_uuid)
            continue
        except placement.Conflict:
            if attempts > max_retries:
                raise placement.PlacementError(
                    'resource provider %s changed under us %d times in a '
                    'row (another writer, normally nova-compute); gave up '
                    'without writing; the next report will try again'
                    % (provider_uuid, attempts))
            LOG.debug('conflict writing traits of %s; re-reading',
                      provider_uuid)
            _backoff(attempts)
            continue
        change_marker.bump(client)  # the schedulers read again soon
        return SyncResult(provider_uuid, added, removed, created,
                          generation, attempts, dry_run, True, stored or ())


# -- nova provider config ---------------------------------------------------

PROVIDER_CONFIG_SCHEMA_VERSION = '1.0'
#: A temporary file of ours older than this is litter from a killed run.
STALE_SECONDS = 300
RESTART_MESSAGE = ('nova-compute reads provider config files only when it '
                   'starts: restart nova-compute to publish these traits')


def provider_config_document(wanted):
    """nova's provider config (schema 1.0) adding ``wanted`` to this
    compute node's provider.
    """
    wanted = _check_wanted(wanted)
    return {
        'meta': {'schema_version': PROVIDER_CONFIG_SCHEMA_VERSION},
        'providers': [{
            'identification': {'uuid': '$COMPUTE_NODE'},
            'traits': {'additional': sorted(wanted)},
        }],
    }


def write_provider_config(directory, wanted, filename='migcompat.yaml',
                          dry_run=False):
    """Write the provider config file atomically; (path, changed).

    The file is written to a temporary name in the same directory and
    renamed over the old one, so nova-compute never reads half a file. An
    identical file is left alone (no restart needed).
    """
    if not filename.endswith('.yaml') or os.sep in filename:
        raise InputError('provider config file name %r: must be a plain '
                         'name ending in .yaml (nova reads only *.yaml)'
                         % filename)
    if not os.path.isdir(directory):
        raise InputError('%s: is not a directory (nova\'s [compute] '
                         'provider_config_location)' % directory)
    path = os.path.join(directory, filename)
    if not dry_run:
        # Also when the file is unchanged: litter of a killed run goes on
        # the next run, whatever it writes.
        remove_stale_temps(directory, filename)
    header = ('# Written by "migcompat profile publish --provider-config"; '
              'do not '
              'edit.\n# %s.\n' % RESTART_MESSAGE)
    text = header + yaml.safe_dump(provider_config_document(wanted),
                                   default_flow_style=False, sort_keys=True)
    try:
        with open(path) as f:
            if f.read() == text:
                return path, False
    except FileNotFoundError:
        pass
    except OSError as e:
        raise InputError('%s: cannot be read: %s' % (path, e.strerror))
    if dry_run:
        return path, True
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % filename,
                                   suffix='.tmp')
    except OSError as e:
        raise InputError('%s: cannot write there: %s'
                         % (directory, e.strerror))
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError('%s: cannot be written: %s' % (path, e.strerror))
    return path, True


def remove_stale_temps(directory, filename, max_age=STALE_SECONDS, now=None):
    """Remove our temporary files (``.<filename>.XXXXXXXX.tmp``, as
    write_provider_config names them) older than max_age seconds: what a
    killed run left. Returns the names removed; nothing else is touched.
    """
    ours = re.compile(r'\.%s\.[A-Za-z0-9_]{8}\.tmp\Z' % re.escape(filename))
    now = time.time() if now is None else now
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not ours.match(entry):
            continue
        full = os.path.join(directory, entry)
        try:
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > max_age:
                os.unlink(full)
                removed.append(entry)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed
