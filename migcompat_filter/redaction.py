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

"""Keep credentials out of what the CLI prints and logs.

A URL may carry ``user:password@`` in its authority (``--placement-url``,
``MIGCOMPAT_PLACEMENT_URL``, a clouds.yaml ``auth_url``). keystoneauth and
requests quote the URL in their exception messages and debug logs, so
scrubbing only the messages migcompat builds is not enough: the CLI runs
every line it writes (its output, its log records, a ``--debug``
traceback) through :func:`redact`, which

* strips the userinfo from every ``scheme://userinfo@host`` it finds, and
* replaces every secret registered with :func:`add_secrets_from_url` (the
  password of a URL given on the command line or in the environment)
  wherever it appears, also outside a URL.

Pure text functions and two small wrappers; no import beyond the
standard library.
"""

import logging
import re
import threading
import urllib.parse

#: What replaces a registered secret.
MASK = '***'

# scheme://userinfo@ : userinfo ends at the last "@" of the authority
# (greedy: a password may hold a raw "@"), which never holds "/", "?",
# "#" or white space (RFC 3986 3.2).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s'\"<>]*@")

#: Shorter values are not masked as free text: masking "a" or "ad" would
#: mangle every line, and such a value is no secret anyway. They are still
#: removed from URLs by the userinfo rule.
_MIN_SECRET = 3

_lock = threading.Lock()
_secrets = set()


def strip_userinfo(url):
    """url without its ``user:password@`` part (unchanged otherwise)."""
    return _USERINFO.sub(r'\1', url)


def add_secrets_from_url(url):
    """Remember the password of url's userinfo, raw and percent-decoded,
    so that :func:`redact` masks it anywhere.
    """
    if not url or '@' not in url:
        return
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://([^/?#\s]*)@", url)
    if not match:
        return
    # The password (or, without ":", the whole userinfo, which may be a
    # token); a bare user name is no secret and would mask common words.
    secret = match.group(1).split(':', 1)[-1]
    found = {secret, urllib.parse.unquote(secret)}
    with _lock:
        _secrets.update(s for s in found if len(s) >= _MIN_SECRET)


def clear_secrets():
    """Forget the registered secrets (tests)."""
    with _lock:
        _secrets.clear()


def redact(text):
    """text with URL userinfo stripped and registered secrets masked."""
    if not isinstance(text, str) or not text:
        return text
    if not _secrets and '@' not in text:
        # Nothing to mask (a userinfo needs an "@"): the common case, and
        # json output writes one piece per value (5,000 guests: 170,000).
        return text
    text = _USERINFO.sub(r'\1', text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingStream(object):
    """A text stream that redacts what is written to the wrapped one.

    Everything else (``isatty``, ``fileno``, ``encoding``, ...) is the
    wrapped stream's.
    """

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(redact(text))

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class RedactingFormatter(logging.Formatter):
    """Formats as the formatter it replaces, then redacts the whole record
    (message, arguments and traceback).
    """

    def __init__(self, inner):
        super(RedactingFormatter, self).__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record):
        return redact(self._inner.format(record))


def redact_handlers(logger=None):
    """Make every handler of logger (default: the root) redact."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
