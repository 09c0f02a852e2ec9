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

"""The scheduler's Placement reads: one GET within a deadline, and the
shape of every answer checked before the cache believes it.

Two guarantees the profile cache (scheduler/profiles.py) builds on:

* **Time.** :func:`timed_get` never returns later than its deadline (plus
  the few milliseconds a thread switch costs), whatever Placement does:
  the call runs in a helper thread and the caller waits for it at most
  that long. The call goes through the client's public ``get`` only
  (nova's ``SchedulerReportClient.get``, whatever wraps or patches it):
  never through a private attribute, so it does not matter when this
  module was imported nor what a harness patched before. nova's ``get``
  takes no timeout, so a call Placement never answers keeps its helper
  thread until nova's ``[placement] timeout`` (if set) ends it; at most
  :data:`MAX_IN_FLIGHT` such calls are left waiting at once, after which
  a read fails at once instead of starting another thread.
* **Shape.** A 200 answer is only data when it has the keys and types the
  cache reads (:func:`trait_names`, :func:`provider_uuids`). A body that
  is not JSON, or JSON of another shape (``{}``, a list, a truncated
  body) is a :class:`PlacementFailure` naming the request, exactly like an
  HTTP error: the previous mapping then stays in use.

No nova import: the client is duck-typed (``get(url, version=...,
global_request_id=...)``).
"""

import threading
import time

#: Not JSON of the expected shape (the message every such answer gets).
BAD_BODY = 'placement answered HTTP 200 with a body that is not the ' \
    'expected JSON'


class PlacementFailure(Exception):
    """Placement answered with an error, not at all, or too late.

    status: the HTTP status of an error answer (None: no answer, or a 200
    whose body is not the expected JSON).
    """

    def __init__(self, message, status=None):
        super(PlacementFailure, self).__init__(message)
        self.status = status


class NotFound(PlacementFailure):
    """Placement answered 404: no such resource provider (any more)."""


#: The most Placement calls left running past their deadline at once.
MAX_IN_FLIGHT = 16

_in_flight = [0]
_in_flight_lock = threading.Lock()


def send(client, url, version, request_id):
    """One GET through the client's public get (nova's report client:
    ``get(url, version=None, global_request_id=None)``).
    """
    inner = getattr(client, 'counted_client', None)
    if inner is not None:  # profiles.CallCounter: count, then send
        client.count(url)
        return send(inner, url, version, request_id)
    return client.get(url, version=version, global_request_id=request_id)


def in_flight():
    """How many Placement calls are running now (tests, the benchmark)."""
    return _in_flight[0]


def timed_get(client, url, version, deadline, request_id=None,
              clock=time.monotonic):
    """The JSON body of a 200 answer to GET url, by the deadline.

    deadline is in clock()'s time. Raises PlacementFailure for anything
    else (budget already spent, no answer in time, a connection error, an
    HTTP status other than 200, a body that is not JSON); the message
    names the request.
    """
    left = deadline - clock()
    if left <= 0:
        raise PlacementFailure('GET %s: time budget exhausted before the '
                               'request' % url)
    with _in_flight_lock:
        if _in_flight[0] >= MAX_IN_FLIGHT:
            raise PlacementFailure(
                'GET %s: not sent, %d earlier Placement calls have not '
                'returned yet' % (url, _in_flight[0]))
        _in_flight[0] += 1
    box = {}
    done = threading.Event()

    def call():
        try:
            box['resp'] = send(client, url, version, request_id)
        except Exception as e:  # reported by the waiting caller
            box['error'] = e
        finally:
            with _in_flight_lock:
                _in_flight[0] -= 1
            done.set()

    # A daemon thread: when Placement never answers, the request moves on
    # and the thread ends with nova's own call.
    try:
        threading.Thread(target=call, name='migcompat-placement-get',
                         daemon=True).start()
    except Exception as e:  # no thread left to start one
        with _in_flight_lock:
            _in_flight[0] -= 1
        raise PlacementFailure('GET %s: could not start the call: %s'
                               % (url, e)) from None
    if not done.wait(left):
        raise PlacementFailure('GET %s: placement did not answer within the '
                               'time budget (%.1f s left)' % (url, left))
    if 'error' in box:
        raise PlacementFailure('GET %s failed: %s' % (url, box['error']))
    return _json(box['resp'], url)


def _json(resp, url):
    status = getattr(resp, 'status_code', None)
    if status != 200:
        cls = NotFound if status == 404 else PlacementFailure
        raise cls('GET %s returned HTTP %s' % (url, status), status)
    try:
        return resp.json()
    except Exception:  # ValueError, RecursionError, a truncated body ...
        raise PlacementFailure('GET %s: %s' % (url, BAD_BODY)) from None


def _bad(url, why):
    return PlacementFailure('GET %s: %s (%s)' % (url, BAD_BODY, why))


def trait_names(body, url):
    """body['traits'], checked to be a list of strings."""
    names = body.get('traits') if isinstance(body, dict) else None
    if not isinstance(names, list):
        raise _bad(url, 'no "traits" list')
    if not all(isinstance(n, str) for n in names):
        raise _bad(url, '"traits" holds a non-string')
    return names


def provider_uuids(body, url):
    """The uuid of each of body['resource_providers'], checked."""
    rps = body.get('resource_providers') if isinstance(body, dict) else None
    if not isinstance(rps, list):
        raise _bad(url, 'no "resource_providers" list')
    uuids = []
    for rp in rps:
        uuid = rp.get('uuid') if isinstance(rp, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise _bad(url, 'a resource provider without a "uuid" string')
        uuids.append(uuid)
    return uuids
