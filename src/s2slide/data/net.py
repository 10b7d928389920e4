"""Network calls with an overall deadline, shared by the data routes and chapter 0's checks.

Why this module exists
----------------------
``requests`` (and pooch, pystac-client and planetary-computer on top of it) only has *per read*
timeouts: a server that sends one byte a second never trips them, and their retries multiply
whatever time is lost. Every call the course makes over the network therefore goes through a
:class:`Session` here, whose requests have

- a **connect timeout** (:data:`CONNECT_S`, or less when the deadline is nearer), and
- an **overall deadline** (connect + waiting + transfer) checked at every socket read, so that
  a stalled or trickling server is cut off when it passes;
- for downloads also a **lowest speed** (:data:`LOW_RATE`) averaged over each window of
  ``timeout`` seconds, as curl's ``LOW_SPEED_LIMIT``, so that a trickle is cut early.

When the deadline passes the caller gets a :class:`~s2slide.errors.NetworkUnavailableError`
that names the service and the time allowed (:func:`unavailable`). No retries are made here;
callers that resume (downloads) or retry (token service) do so a bounded number of times.

The deadline is enforced on the socket itself (:class:`_DeadlineSocket`), which urllib3 keeps for
the connection; a thread-and-join timeout would leave the request running in the background.

Defaults (seconds, documented in book/troubleshooting.md): probes 2, catalogue and token
requests 20-60 (the route's ``timeout=``), downloads ``timeout + size / MIN_RATE``.

Also here: :func:`reachable` (a TCP probe for chapter 0), :func:`scrub` (credentials out of
messages built from server replies) and :func:`download` (to a temporary name in the same folder,
renamed when complete and verified, through :func:`s2slide.files.atomic`; stale temporaries of
ours are cleaned by the next download).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlparse

from s2slide import checks, config, files

__all__ = ["CONNECT_S", "MIN_RATE", "Session", "deadline", "reachable", "unavailable", "scrub",
           "get_json", "parse_json", "not_json", "check_status", "status_fix", "download",
           "matches", "LOW_RATE"]

#: Seconds allowed to open a connection (DNS + TCP + TLS), unless the deadline is nearer.
CONNECT_S = 10.0
#: Bytes per second a download is budgeted at: it may take ``timeout + size / MIN_RATE`` seconds.
MIN_RATE = 100_000.0
#: Bytes per second below which a transfer counts as stalled over a window (curl's LOW_SPEED_LIMIT).
LOW_RATE = 1_000.0


# ----------------------------------------------------------------------------- the deadline
@dataclass
class _Budget:
    """The time (and speed) a block of network calls may use."""

    seconds: float
    end: float
    min_rate: float | None = None
    window: float = 30.0
    window_start: float = field(default_factory=time.monotonic)
    window_bytes: int = 0
    reason: str | None = None

    def check(self) -> float:
        """Seconds left; raises :class:`DeadlineExceeded` once the deadline or speed rule fails."""
        now = time.monotonic()
        if now >= self.end:
            self.reason = f"no complete answer within {self.seconds:g} s (connect + transfer)"
            raise DeadlineExceeded(self.reason)
        if self.min_rate and now - self.window_start >= self.window:
            if self.window_bytes < self.min_rate * (now - self.window_start):
                rate = self.window_bytes / (now - self.window_start)
                self.reason = (f"the transfer averaged {rate:.0f} B/s over "
                               f"{now - self.window_start:.0f} s, below the "
                               f"{self.min_rate:.0f} B/s allowed")
                raise DeadlineExceeded(self.reason)
            self.window_start, self.window_bytes = now, 0
        return self.end - now

    def passed(self) -> str | None:
        """Why this budget ran out, or None while it has time left."""
        if self.reason is None and time.monotonic() >= self.end - 0.05:
            self.reason = f"no complete answer within {self.seconds:g} s (connect + transfer)"
        return self.reason


class DeadlineExceeded(socket.timeout):
    """Raised inside a socket read when the overall deadline has passed (urllib3 then raises its
    own timeout error, which :func:`unavailable` turns into NetworkUnavailableError)."""


_BUDGET: ContextVar[_Budget | None] = ContextVar("s2slide_net_budget", default=None)


@contextlib.contextmanager
def deadline(seconds: float, *, min_rate: float | None = None,
             window: float = 30.0) -> Iterator[_Budget]:
    """Bound every socket read and write of the requests made inside the block.

    Parameters
    ----------
    seconds : float
        Overall time allowed for the block (connect + waiting + transfer). A block inside
        another keeps the nearer deadline.
    min_rate : float, optional
        Bytes per second the transfer must average over each ``window`` seconds (downloads).
    window : float
        Seconds over which ``min_rate`` is measured.
    """
    seconds = checks.number("timeout", seconds, positive=True,
                            hint=": a network timeout is a positive number of seconds, e.g. 20")
    outer = _BUDGET.get()
    end = time.monotonic() + seconds
    if outer is not None and outer.end < end:
        end, seconds = outer.end, outer.seconds
    budget = _Budget(float(seconds), end, min_rate, float(window))
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def expired() -> str | None:
    """Why the innermost deadline was exceeded (None if it was not)."""
    budget = _BUDGET.get()
    return budget.reason if budget is not None else None


class _DeadlineSocket:
    """A socket whose reads and writes are bounded by the current :func:`deadline`.

    Everything else is delegated to the wrapped (plain or TLS) socket. ``makefile("rb")`` returns
    a reader that goes through :meth:`recv_into` here, so http.client's header and body reads
    are bounded too.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _bound(self) -> _Budget | None:
        budget = _BUDGET.get()
        if budget is None:
            self._sock.settimeout(self._timeout)
            return None
        left = budget.check()
        self._sock.settimeout(left if self._timeout is None else min(left, self._timeout))
        return budget

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        budget = self._bound()
        n = self._sock.recv_into(buffer, nbytes, flags)
        if budget is not None:
            budget.window_bytes += n
        return n

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        budget = self._bound()
        data = self._sock.recv(bufsize, flags)
        if budget is not None:
            budget.window_bytes += len(data)
        return data

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._bound()
        self._sock.sendall(data, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self._bound()
        return self._sock.send(data, flags)

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> Any:
        if mode != "rb":
            return self._sock.makefile(mode, buffering, **kwargs)
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # as socket.makefile does; SocketIO.close gives it back
        return io.BufferedReader(raw, io.DEFAULT_BUFFER_SIZE)


@functools.cache
def _connection_classes() -> tuple[type, type]:
    from urllib3.connection import HTTPConnection, HTTPSConnection

    class _Conn(HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _DeadlineSocket(self.sock)

    class _SConn(HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            self.sock = _DeadlineSocket(self.sock)

    return _Conn, _SConn


@functools.cache
def _adapter_class() -> type:
    """A requests adapter class whose connections use :class:`_DeadlineSocket`."""
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    conn, sconn = _connection_classes()
    pools = {"http": type("_Pool", (HTTPConnectionPool,), {"ConnectionCls": conn}),
             "https": type("_SPool", (HTTPSConnectionPool,), {"ConnectionCls": sconn})}

    class DeadlineAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

    return DeadlineAdapter


def _adapter() -> Any:
    """A requests adapter whose connections use :class:`_DeadlineSocket` (and never retry)."""
    return _adapter_class()(max_retries=0)


@functools.cache
def _session_class() -> type:
    import requests

    class Session(requests.Session):
        """A :class:`requests.Session` whose every request has an overall deadline.

        Parameters
        ----------
        timeout : float
            Overall seconds per request (connect + waiting + transfer of a non-streamed body;
            a streamed body is bounded by the caller's :func:`deadline`).
        keep_auth : callable, optional
            ``keep_auth(url) -> bool``: keep the ``Authorization`` header on a redirect to this
            other host (requests drops it on every cross-host redirect).
        """

        def __init__(self, *, timeout: float, keep_auth: Callable[[str], bool] | None = None):
            super().__init__()
            adapter = _adapter()
            self.mount("http://", adapter)
            self.mount("https://", adapter)
            self.timeout = float(timeout)
            self._keep_auth = keep_auth

        def send(self, request: Any, **kwargs: Any) -> Any:
            with deadline(self.timeout) as budget:
                left = budget.end - time.monotonic()
                kwargs["timeout"] = (max(0.05, min(CONNECT_S, left)), max(0.05, left))
                return super().send(request, **kwargs)

        def should_strip_auth(self, old_url: str, new_url: str) -> bool:
            if self._keep_auth is not None and self._keep_auth(new_url):
                return False
            return super().should_strip_auth(old_url, new_url)

    return Session


def Session(*, timeout: float, keep_auth: Callable[[str], bool] | None = None) -> Any:
    """A :class:`requests.Session` with an overall deadline per request (see the module notes)."""
    return _session_class()(timeout=timeout, keep_auth=keep_auth)


# ----------------------------------------------------------------------------- errors and replies
def unavailable(what: str, err: BaseException | str, *, url: str | None = None,
                hint: str | None = None, budget: _Budget | None = None) -> Exception:
    """A NetworkUnavailableError for ``what``, saying whether its deadline (``budget``) passed."""
    from s2slide.errors import NetworkUnavailableError

    if isinstance(err, str):
        why = err
    else:
        why = ((budget.passed() if budget is not None else None) or expired()
               or _deadline_in(err) or _plain_reason(err))
    where = f" at {url}" if url else ""
    hint = hint or ("a chapter can run without a network with load_scene(..., source='mirror') "
                    "(real sample files, where the mirror holds the scene) or source='simulated'")
    return NetworkUnavailableError(f"cannot use {what}{where} ({why}); {hint}")


def _deadline_in(err: BaseException) -> str | None:
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, DeadlineExceeded):
            return str(e)
        stack += [e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)]]
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def _plain_reason(err: BaseException) -> str:
    """A short reason for a connection error, instead of urllib3's pool-and-retry wording."""
    text = f"{err} {err.__cause__ or ''} {err.__context__ or ''}".lower()
    if "refused" in text:
        return "connection refused: nothing answers at that address"
    if any(k in text for k in ("name or service not known", "nodename nor servname",
                               "getaddrinfo", "temporary failure in name resolution",
                               "failed to resolve", "no address associated")):
        return "the host name cannot be resolved: no network, or a typo in the address"
    if "timed out" in text or "timeout" in text:
        return "no answer in time"
    if any(k in text for k in ("reset by peer", "broken pipe", "remotedisconnected",
                               "connection aborted", "incompleteread", "prematurely")):
        return "the connection was dropped"
    return f"{type(err).__name__}: {_short(err)}"


def _short(err: BaseException, limit: int = 200) -> str:
    text = str(err).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


def scrub(text: str, secrets: Iterator[str] | list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``<hidden>``, also URL- and JSON-encoded forms.

    Messages built from server replies go through this: a login service may echo the form it
    received (``username=...&password=...``) in its error description.
    """
    for secret in secrets:
        if not secret or len(secret) < 3:
            continue
        forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "<hidden>")
    return text


def not_json(what: str, text: str, *, url: str | None, detail: str, html: bool = False,
             check: str = "the address") -> Exception:
    """The NetworkUnavailableError for an answer that is not the JSON expected.

    An HTML page (``html``, or ``text`` starting as one) is the mark of a captive portal (a
    Wi-Fi login page), a proxy or a wrong address, and the message says so; otherwise the answer
    is invalid JSON, ``detail`` saying how. ``check`` names what to check (an address setting).
    """
    if html or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        return unavailable(what, "it answered with an HTML page, not JSON", url=url, hint=(
            "a captive portal (the login page of a hotel, campus or train Wi-Fi) or a proxy may be "
            f"in the way: open any web page in a browser and log in, or check {check}"))
    return unavailable(what, f"its answer is not valid JSON ({detail})", url=url,
                       hint=f"the service may be having trouble: try again later, or check {check}")


def parse_json(resp: Any, *, what: str, url: str | None = None) -> Any:
    """The JSON body of ``resp``, or a NetworkUnavailableError that says what came instead
    (:func:`not_json`)."""
    url = url or getattr(resp, "url", None)
    ctype = str(resp.headers.get("Content-Type", "")).lower()
    body = resp.text if hasattr(resp, "text") else ""
    try:
        return resp.json()
    except ValueError:
        pass
    raise not_json(what, body, url=url, html="html" in ctype,
                   detail=f"{len(body)} bytes starting {body[:60]!r}")


def status_fix(code: int | None, *, setting: str | None = None) -> str:
    """What to do about an HTTP error status ``code`` (None: unknown), for a message's hint."""
    if code == 404:
        return (f"the address is wrong or the service moved: check {setting}" if setting
                else "the address is wrong or the file is not there")
    if code == 429:
        return "too many requests: wait a minute and try again"
    if (code or 0) >= 500:
        return "the service is having trouble: try again in a few minutes"
    return "the request was refused"


def check_status(resp: Any, *, what: str, setting: str | None = None,
                 error: type[Exception] | None = None) -> None:
    """Raise a clear error for an HTTP error status (404, 5xx, ...).

    The error is a NetworkUnavailableError (the service cannot be used), or ``error`` when the
    caller has a better class (a download: DownloadError).
    """
    if resp.status_code < 400:
        return
    code = resp.status_code
    err = unavailable(what, f"HTTP {code} {resp.reason or ''}".strip(), url=resp.url,
                      hint=status_fix(code, setting=setting))
    if error is not None:
        err = error(str(err).replace("cannot use", "could not download", 1))
    raise err


def get_json(url: str, *, what: str, timeout: float, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, session: Any = None,
             setting: str | None = None, hint: str | None = None) -> Any:
    """GET ``url`` and return its JSON, all within ``timeout`` seconds; clear errors otherwise.

    Raises
    ------
    NetworkUnavailableError
        No answer in time, an HTTP error status, or an answer that is not JSON.
    """
    import requests

    sess = session or Session(timeout=timeout)
    with deadline(timeout) as budget:
        try:
            resp = sess.get(url, params=params, headers=headers)
        except requests.RequestException as err:
            raise unavailable(what, err, url=url, budget=budget, hint=hint) from None
    check_status(resp, what=what, setting=setting)
    return parse_json(resp, what=what, url=url)


# ----------------------------------------------------------------------------- probes
def reachable(url: str, *, timeout: float = 2.0) -> tuple[bool, str]:
    """Can a TCP connection be opened to the host of ``url`` within ``timeout`` seconds?

    The name lookup is bounded too (it runs in a helper thread that is not waited for).
    Returns ``(False, reason)`` at once when ``S2SLIDE_OFFLINE``/``CI`` is set.
    """
    if config.offline():
        return False, "skipped: offline mode (S2SLIDE_OFFLINE or CI is set)"
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    result: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((parsed.hostname or "", port), timeout=timeout).close()
            result.append(None)
        except OSError as err:
            result.append(f"unreachable ({err.__class__.__name__}: {err})")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return False, f"unreachable (no answer within {timeout:g} s)"
    return (True, "reachable") if result[0] is None else (False, result[0])


# ----------------------------------------------------------------------------- downloads
#: errno values of a disk that cannot take the file: passed on as OSError, not as a network fault.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EACCES, errno.EPERM,
                          errno.EROFS})
_HASH_NAMES = {"sha256": "SHA-256", "md5": "MD5", "sha1": "SHA-1"}


def _checksum(checksum: str | None) -> tuple[str, str | None]:
    """(hashlib name, expected hex digest or None) of ``"md5:<hex>"``, ``"sha256:<hex>"`` or a
    bare SHA-256 (the forms Zenodo and pooch use)."""
    if checksum is None:
        return "sha256", None
    algorithm, _, hexdigest = checks.text("checksum", checksum, example="'md5:0123abcd...'"
                                          ).rpartition(":")
    algorithm = algorithm.lower() or "sha256"
    if algorithm not in _HASH_NAMES:
        from s2slide.errors import InvalidInputError

        raise InvalidInputError(f"checksum={checksum!r}: give 'sha256:<hex>' or 'md5:<hex>'")
    return algorithm, hexdigest.lower()


def matches(path: Path, checksum: str) -> bool:
    """Whether the file ``path`` has ``checksum`` (``"md5:<hex>"``, ``"sha256:<hex>"``)."""
    algorithm, expected = _checksum(checksum)
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, algorithm).hexdigest() == expected


def download(url: str, final: Path, *, what: str, timeout: float, size: int | None = None,
             checksum: str | None = None, progress: bool = False, hint: str | None = None,
             attempts: int = 1) -> Path:
    """Download ``url`` to ``final`` through a temporary name in the same folder.

    The body is streamed to a temporary of :func:`s2slide.files.atomic` beside ``final``, its
    checksum computed on the way, then renamed onto ``final`` (:func:`os.replace`, atomic) only
    when complete and, if ``checksum`` is given, matching. Nothing partial is left behind on any
    error; temporaries left by a killed process are removed first
    (:func:`s2slide.files.clean_stale`).

    Parameters
    ----------
    timeout : float
        Seconds allowed for connecting and for the first bytes; the whole transfer may take
        ``timeout + size / MIN_RATE`` seconds and must average :data:`LOW_RATE` over every
        ``timeout`` seconds.
    size : int, optional
        Bytes expected; another length is a ChecksumError.
    checksum : str, optional
        ``"sha256:<hex>"`` or ``"md5:<hex>"`` (Zenodo's form; a bare hex digest is SHA-256).
    attempts : int
        Tries when the connection drops (never after the deadline or the speed rule failed).

    Raises
    ------
    NetworkUnavailableError
        No answer, the connection dropped on every try, the deadline or the speed rule passed.
    DownloadError
        An HTTP error status (e.g. 404), or a disk that cannot take the file (full, read-only,
        no permission): the message says to free space.
    ChecksumError
        Complete but with another checksum (or size).
    """
    from s2slide.errors import DownloadError, S2SlideError

    algorithm, expected = _checksum(checksum)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, max(1, attempts) + 1):
            try:
                return _download_once(url, final, what=what, timeout=timeout, size=size,
                                      checksum=(algorithm, expected), progress=progress,
                                      hint=hint)
            except _Dropped as dropped:
                if attempt >= attempts:
                    raise dropped.error from None
    except OSError as err:  # the package's errors are OSErrors too: only the disk's are told here
        if isinstance(err, S2SlideError):
            raise
        raise DownloadError(f"could not save {final.name} into {final.parent} ({err}); free some "
                            "space or set S2SLIDE_CACHE to a writable folder") from err
    raise AssertionError("unreachable")  # pragma: no cover


class _Dropped(Exception):
    """A connection that dropped before the deadline: worth another try."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _download_once(url: str, final: Path, *, what: str, timeout: float, size: int | None,
                   checksum: tuple[str, str | None], progress: bool, hint: str | None) -> Path:
    import requests
    import urllib3

    from s2slide.errors import DownloadError

    total_s = timeout + (size or 0) / MIN_RATE
    budget = None
    try:
        with files.atomic(final) as part:
            with deadline(total_s, min_rate=LOW_RATE, window=timeout) as budget:
                with Session(timeout=total_s).get(url, stream=True) as resp:
                    check_status(resp, what=what, error=DownloadError)
                    digest = _stream(resp, part, checksum[0], size=size, progress=progress,
                                     desc=final.name)
            _verify(part, digest, checksum[1], size=size, name=final.name, url=url)
        return final
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
        if isinstance(err, DownloadError) or getattr(err, "errno", None) in _DISK_ERRNOS:
            raise
        error = unavailable(what, err, url=url, budget=budget, hint=hint)
        if budget is not None and budget.passed():
            raise error from None
        raise _Dropped(error) from None


def _stream(resp: Any, part: Path, algorithm: str, *, size: int | None, progress: bool,
            desc: str) -> Any:
    """Write the body of ``resp`` to ``part``; returns the hashlib object fed on the way."""
    from tqdm.auto import tqdm

    digest = hashlib.new(algorithm)
    with open(part, "wb") as out, tqdm(total=size, unit="B", unit_scale=True,
                                       desc=desc, disable=not progress) as bar:
        while chunk := resp.raw.read1(1 << 16):
            out.write(chunk)
            digest.update(chunk)
            bar.update(len(chunk))
    return digest


def _verify(part: Path, digest: Any, expected: str | None, *, size: int | None, name: str,
            url: str) -> None:
    """ChecksumError unless ``part`` has ``size`` bytes and the ``expected`` digest."""
    from s2slide.errors import ChecksumError

    got = part.stat().st_size
    if size is not None and got != size:
        raise ChecksumError(f"the download of {name} from {url} has {got} bytes, "
                            f"{size} were expected; it was deleted, fetch it again")
    if expected and digest.hexdigest() != expected:
        raise ChecksumError(f"the download of {name} from {url} does not match its "
                            f"{_HASH_NAMES[digest.name]} checksum (expected {expected[:12]}..., "
                            f"got {digest.hexdigest()[:12]}...); it was deleted, fetch it again")
