"""pyzmq, built from its sdist against oxmq's libzmq.so: the library it loads, and round trips.

Run by run.sh, which sets OXMQ_PREFIX to the prefix oxmq's libzmq was installed into. Every socket
has send and receive timeouts, so a lost message fails its test (zmq.Again) instead of hanging it.
The only timing assertions are generous bounds on zmq.Poller's timeout.
"""

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import pytest
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = os.environ.get("OXMQ_PREFIX") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "target", "pyzmq-prefix"
)
TIMEOUT_MS = 10_000
TRANSPORTS = ["tcp", "ipc"]


# ---------------------------------------------------------------------------------------------
# helpers


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ipc_dir():
    # Short: an ipc path must fit in sockaddr_un (107 bytes).
    d = tempfile.mkdtemp(prefix="oxmq-pyzmq-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture
def endpoint(transport, ipc_dir):
    """A fresh endpoint to bind: tcp on an ephemeral port (`*`), ipc in a fresh directory."""
    counter = iter(range(1_000_000))

    def make():
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        return f"ipc://{ipc_dir}/s{next(counter)}"

    return make


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def make_socket(ctx, kind, **opts):
    s = ctx.socket(kind)
    s.linger = 0
    s.rcvtimeo = TIMEOUT_MS
    s.sndtimeo = TIMEOUT_MS
    for name, value in opts.items():
        s.setsockopt(getattr(zmq, name), value)
    return s


def bind_pair(ctx, endpoint, bind_kind, connect_kind, bind_opts=None, connect_opts=None):
    """A socket bound to a fresh endpoint and one connected to it; returns (bound, connected)."""
    b = make_socket(ctx, bind_kind, **(bind_opts or {}))
    b.bind(endpoint())
    addr = b.last_endpoint.decode()
    assert "*" not in addr, addr
    c = make_socket(ctx, connect_kind, **(connect_opts or {}))
    c.connect(addr)
    return b, c


# ---------------------------------------------------------------------------------------------
# the library


def test_version_and_library():
    assert zmq.zmq_version() == "4.3.5"
    assert zmq.zmq_version_info() == (4, 3, 5)
    assert zmq.pyzmq_version() == "27.3.0"
    # The libzmq mapped into this process is the one installed from oxmq into the prefix.
    with open("/proc/self/maps") as f:
        mapped = {
            line.split(None, 5)[5].strip()
            for line in f
            if len(line.split(None, 5)) == 6 and "libzmq" in os.path.basename(line.split(None, 5)[5])
        }
    expected = os.path.realpath(os.path.join(PREFIX, "lib", "libzmq.so.5"))
    assert os.path.isfile(expected), expected
    assert mapped == {expected}, f"libzmq mapped from {mapped}, expected {expected}"
    # The extension module itself is a build against the prefix, not pyzmq's wheel (which bundles
    # its own libzmq as pyzmq.libs/libzmq-*.so).
    import zmq.backend.cython._zmq as ext

    assert "pyzmq.libs" not in ext.__file__


# ---------------------------------------------------------------------------------------------
# round trips, for tcp and ipc


def test_push_pull(ctx, endpoint):
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    payloads = [b"", b"x", b"hello", bytes(range(256)) * 4, os.urandom(300_000)]
    for p in payloads:
        push.send(p)
    for p in payloads:
        assert pull.recv() == p
    push.send_string("text \u00e9")
    assert pull.recv_string() == "text \u00e9"
    push.send_pyobj({"a": [1, 2, 3]})
    assert pull.recv_pyobj() == {"a": [1, 2, 3]}


def test_push_pull_zero_copy(ctx, endpoint):
    """copy=False sends hand the buffer to libzmq with a free callback (zmq_msg_init_data)."""
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    big = os.urandom(1 << 20)
    tracker = push.send(big, copy=False, track=True)
    frame = pull.recv(copy=False)
    assert frame.bytes == big
    assert len(frame.buffer) == len(big)
    tracker.wait(timeout=TIMEOUT_MS / 1000)
    assert tracker.done
    small = b"small message"
    push.send(small, copy=False)
    assert pull.recv(copy=False).bytes == small


def test_push_pull_fan_in(ctx, endpoint):
    pull = make_socket(ctx, zmq.PULL)
    pull.bind(endpoint())
    addr = pull.last_endpoint.decode()
    pushers = [make_socket(ctx, zmq.PUSH) for _ in range(3)]
    for i, p in enumerate(pushers):
        p.connect(addr)
        for j in range(10):
            p.send_string(f"{i}:{j}")
    got = [pull.recv_string() for _ in range(30)]
    assert sorted(got) == sorted(f"{i}:{j}" for i in range(3) for j in range(10))
    # per sender, order is kept
    for i in range(3):
        assert [g for g in got if g.startswith(f"{i}:")] == [f"{i}:{j}" for j in range(10)]


def test_req_rep(ctx, endpoint):
    rep, req = bind_pair(ctx, endpoint, zmq.REP, zmq.REQ)
    for i in range(20):
        req.send_string(f"ping {i}")
        assert rep.recv_string() == f"ping {i}"
        rep.send_string(f"pong {i}")
        assert req.recv_string() == f"pong {i}"
    # a multi-part request and reply
    req.send_multipart([b"a", b"", b"c"])
    assert rep.recv_multipart() == [b"a", b"", b"c"]
    rep.send_multipart([b"x", b"y"])
    assert req.recv_multipart() == [b"x", b"y"]
    # REQ must alternate: a second send before the reply is refused (EFSM)
    req.send(b"one")
    with pytest.raises(zmq.ZMQError) as e:
        req.send(b"two")
    assert e.value.errno == zmq.EFSM
    assert rep.recv() == b"one"
    rep.send(b"reply")
    assert req.recv() == b"reply"


def test_req_rep_json(ctx, endpoint):
    rep, req = bind_pair(ctx, endpoint, zmq.REP, zmq.REQ)
    req.send_json({"op": "add", "args": [1, 2]})
    msg = rep.recv_json()
    rep.send_json({"result": sum(msg["args"])})
    assert req.recv_json() == {"result": 3}


def wait_for_subscription(pub, sub, probe, timeout_s=10.0):
    """The slow joiner: publish `probe` until the subscriber gets one (its subscription arrived)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pub.send(probe)
        if sub.poll(50, zmq.POLLIN):
            assert sub.recv() == probe
            return
    raise AssertionError("subscriber never received the probe: subscription not propagated")


def drain_probes(sub, probe):
    """Receive the next message that is not a probe (probes still in flight come first)."""
    while True:
        msg = sub.recv_multipart()
        if msg != [probe]:
            return msg


def test_pub_sub(ctx, endpoint):
    pub, sub = bind_pair(ctx, endpoint, zmq.PUB, zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"news.")
    probe = b"news.probe"
    wait_for_subscription(pub, sub, probe)
    pub.send(b"sport.goal")  # not subscribed
    pub.send(b"new")  # shorter than the prefix
    pub.send(b"news.weather")  # subscribed
    pub.send_multipart([b"news.multi", b"part 2", b""])  # the filter applies to the first frame
    pub.send_multipart([b"other", b"news."])
    pub.send(b"news.last")
    assert drain_probes(sub, probe) == [b"news.weather"]
    assert sub.recv_multipart() == [b"news.multi", b"part 2", b""]
    assert sub.recv_multipart() == [b"news.last"]
    # nothing else: the unsubscribed messages were filtered out (they were sent before news.last)
    assert sub.poll(200, zmq.POLLIN) == 0


def test_pub_sub_two_subscribers(ctx, endpoint):
    pub = make_socket(ctx, zmq.PUB)
    pub.bind(endpoint())
    addr = pub.last_endpoint.decode()
    sub_a = make_socket(ctx, zmq.SUB)
    sub_a.setsockopt(zmq.SUBSCRIBE, b"A")
    sub_a.connect(addr)
    sub_all = make_socket(ctx, zmq.SUB)
    sub_all.setsockopt(zmq.SUBSCRIBE, b"")
    sub_all.connect(addr)
    wait_for_subscription(pub, sub_a, b"A-probe")
    wait_for_subscription(pub, sub_all, b"A-probe")
    for m in [b"A1", b"B1", b"A2", b"C"]:
        pub.send(m)
    got_a = []
    while len(got_a) < 2:
        m = sub_a.recv()
        if m != b"A-probe":
            got_a.append(m)
    assert got_a == [b"A1", b"A2"]
    got_all = []
    while len(got_all) < 4:
        m = sub_all.recv()
        if m != b"A-probe":
            got_all.append(m)
    assert got_all == [b"A1", b"B1", b"A2", b"C"]


def test_pub_sub_unsubscribe(ctx, endpoint):
    pub, sub = bind_pair(ctx, endpoint, zmq.PUB, zmq.SUB)
    sub.subscribe(b"x")
    sub.subscribe(b"probe")
    wait_for_subscription(pub, sub, b"probe")
    sub.unsubscribe(b"x")
    # The unsubscription travels like the subscription did; once a message published after a
    # probe-marker round is filtered, nothing for "x" may arrive any more. Publish x then a marker,
    # until a marker arrives without an x before it.
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "unsubscribe never took effect"
        pub.send(b"x-data")
        pub.send(b"probe-marker")
        seen_x = False
        while True:
            m = sub.recv()
            if m == b"probe-marker":
                break
            if m == b"x-data":
                seen_x = True
        if not seen_x:
            break
    pub.send(b"x-after")
    pub.send(b"probe-end")
    while True:
        m = sub.recv()
        assert m != b"x-after"
        if m == b"probe-end":
            break


def test_dealer_router(ctx, endpoint):
    router = make_socket(ctx, zmq.ROUTER)
    router.bind(endpoint())
    addr = router.last_endpoint.decode()
    dealers = {}
    for name in [b"dealer-1", b"dealer-2"]:
        d = make_socket(ctx, zmq.DEALER)
        d.setsockopt(zmq.IDENTITY, name)
        d.connect(addr)
        dealers[name] = d
    for name, d in dealers.items():
        d.send_multipart([b"hello from", name])
    seen = {}
    for _ in dealers:
        identity, *body = router.recv_multipart()
        seen[identity] = body
    assert seen == {name: [b"hello from", name] for name in dealers}
    # the router addresses each reply to one dealer by its identity
    for name in dealers:
        router.send_multipart([name, b"reply to", name])
    for name, d in dealers.items():
        assert d.recv_multipart() == [b"reply to", name]
        assert d.poll(50, zmq.POLLIN) == 0


def test_dealer_router_generated_identity(ctx, endpoint):
    router, dealer = bind_pair(ctx, endpoint, zmq.ROUTER, zmq.DEALER)
    dealer.send(b"anonymous")
    identity, body = router.recv_multipart()
    assert body == b"anonymous"
    assert len(identity) > 0
    router.send_multipart([identity, b"back"])
    assert dealer.recv() == b"back"


def test_router_mandatory_unknown_peer(ctx, endpoint):
    router = make_socket(ctx, zmq.ROUTER, ROUTER_MANDATORY=1)
    router.bind(endpoint())
    with pytest.raises(zmq.ZMQError) as e:
        router.send_multipart([b"nobody", b"data"])
    assert e.value.errno == zmq.EHOSTUNREACH


def test_dealer_rep(ctx, endpoint):
    """A DEALER talks to REP with the empty delimiter frame REQ would add."""
    rep, dealer = bind_pair(ctx, endpoint, zmq.REP, zmq.DEALER)
    dealer.send_multipart([b"", b"question"])
    assert rep.recv() == b"question"
    rep.send(b"answer")
    assert dealer.recv_multipart() == [b"", b"answer"]


def test_multipart(ctx, endpoint):
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    parts = [b"first", b"", os.urandom(100_000), b"last"]
    push.send_multipart(parts)
    assert pull.recv_multipart() == parts
    # the same with zero-copy frames, and the RCVMORE flag on each part
    push.send_multipart(parts, copy=False)
    frames = pull.recv_multipart(copy=False)
    assert [f.bytes for f in frames] == parts
    assert [f.more for f in frames] == [True, True, True, False]
    # part by part with SNDMORE
    push.send(b"a", zmq.SNDMORE)
    push.send(b"b", zmq.SNDMORE)
    push.send(b"c")
    assert pull.recv() == b"a"
    assert pull.getsockopt(zmq.RCVMORE) == 1
    assert pull.recv() == b"b"
    assert pull.rcvmore
    assert pull.recv() == b"c"
    assert pull.getsockopt(zmq.RCVMORE) == 0
    # many multi-part messages stay whole and in order
    for i in range(100):
        push.send_multipart([str(i).encode(), b"x" * i, b"end"])
    for i in range(100):
        assert pull.recv_multipart() == [str(i).encode(), b"x" * i, b"end"]


def test_multipart_router_dealer(ctx, endpoint):
    router, dealer = bind_pair(ctx, endpoint, zmq.ROUTER, zmq.DEALER, connect_opts={"IDENTITY": b"D"})
    dealer.send_multipart([b"1", b"2", b"3"])
    assert router.recv_multipart() == [b"D", b"1", b"2", b"3"]
    router.send_multipart([b"D", b"4", b"", b"6"])
    assert dealer.recv_multipart() == [b"4", b"", b"6"]


def test_poller(ctx, endpoint):
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    pull2, push2 = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    poller = zmq.Poller()
    poller.register(pull, zmq.POLLIN)
    poller.register(pull2, zmq.POLLIN)
    # not readable before anything was sent
    assert poller.poll(0) == []
    # the timeout is honoured: nothing arrives, poll returns empty after about 300 ms
    t0 = time.monotonic()
    assert poller.poll(300) == []
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 5, elapsed
    # readable after a send: only the socket that has a message
    push.send(b"m1")
    events = dict(poller.poll(TIMEOUT_MS))
    assert events == {pull: zmq.POLLIN}
    assert pull.recv() == b"m1"
    # not readable again once drained
    assert poller.poll(0) == []
    push.send(b"a")
    push2.send(b"b")
    got = {}
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        for s, ev in poller.poll(TIMEOUT_MS):
            assert ev == zmq.POLLIN
            got[s] = s.recv()
    assert got == {pull: b"a", pull2: b"b"}
    # POLLOUT on a connected PUSH
    poller.register(push, zmq.POLLOUT)
    assert dict(poller.poll(TIMEOUT_MS)) == {push: zmq.POLLOUT}
    # modify (to no events: that unregisters) and unregister
    poller.modify(push, 0)
    poller.unregister(pull2)
    assert poller.poll(0) == []
    assert [s for s, _ in poller.sockets] == [pull]


def test_poller_readable_multipart(ctx, endpoint):
    rep, req = bind_pair(ctx, endpoint, zmq.REP, zmq.REQ)
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    poller.register(req, zmq.POLLIN)
    req.send_multipart([b"q1", b"q2"])
    assert dict(poller.poll(TIMEOUT_MS)) == {rep: zmq.POLLIN}
    assert rep.recv_multipart() == [b"q1", b"q2"]
    rep.send_multipart([b"r1", b"r2"])
    assert dict(poller.poll(TIMEOUT_MS)) == {req: zmq.POLLIN}
    assert req.recv_multipart() == [b"r1", b"r2"]
    assert poller.poll(0) == []


def test_poller_with_file_descriptor(ctx, endpoint):
    """zmq.Poller (zmq_poll) mixes sockets and plain file descriptors."""
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    r, w = os.pipe()
    try:
        poller = zmq.Poller()
        poller.register(pull, zmq.POLLIN)
        poller.register(r, zmq.POLLIN)
        assert poller.poll(0) == []
        os.write(w, b"!")
        assert dict(poller.poll(TIMEOUT_MS)) == {r: zmq.POLLIN}
        os.read(r, 1)
        push.send(b"m")
        assert dict(poller.poll(TIMEOUT_MS)) == {pull: zmq.POLLIN}
        os.write(w, b"!")
        # both ready
        deadline = time.monotonic() + 10
        while len(events := dict(poller.poll(TIMEOUT_MS))) < 2:
            assert time.monotonic() < deadline
        assert events == {pull: zmq.POLLIN, r: zmq.POLLIN}
    finally:
        os.close(r)
        os.close(w)


def test_socket_poll_and_events(ctx, endpoint):
    pull, push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    assert pull.poll(0) == 0
    assert pull.getsockopt(zmq.EVENTS) & zmq.POLLIN == 0
    push.send(b"m")
    assert pull.poll(TIMEOUT_MS) == zmq.POLLIN
    assert pull.getsockopt(zmq.EVENTS) & zmq.POLLIN
    assert pull.recv(zmq.NOBLOCK) == b"m"
    with pytest.raises(zmq.Again):
        pull.recv(zmq.NOBLOCK)


def test_recv_timeout(ctx, endpoint):
    pull, _push = bind_pair(ctx, endpoint, zmq.PULL, zmq.PUSH)
    pull.rcvtimeo = 200
    t0 = time.monotonic()
    with pytest.raises(zmq.Again):
        pull.recv()
    assert 0.15 <= time.monotonic() - t0 < 5


def test_signal_interrupts_blocking_recv(ctx):
    """A signal ends a blocking recv with EINTR, as in libzmq, so pyzmq runs the Python handler
    (Ctrl-C, SIGALRM timeouts) at once."""
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGUSR1, handler)
    pull = make_socket(ctx, zmq.PULL)
    pull.rcvtimeo = 1500
    pull.bind("inproc://eintr")
    timer = threading.Timer(0.1, signal.pthread_kill, (threading.get_ident(), signal.SIGUSR1))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(Interrupted):
            pull.recv()
        assert time.monotonic() - t0 < 1.2
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGUSR1, old)


# ---------------------------------------------------------------------------------------------
# each peer in its own process: closing and reconnecting


def _server(endpoint, name, ready, stop, results):
    """REP server: binds `endpoint`, answers every request with (name, request) until `stop`."""
    try:
        ctx = zmq.Context()
        rep = ctx.socket(zmq.REP)
        rep.linger = 1000
        rep.bind(endpoint)
        ready.set()
        served = 0
        while not stop.is_set():
            if rep.poll(50, zmq.POLLIN):
                req = rep.recv()
                rep.send_multipart([name.encode(), req])
                served += 1
        rep.close()
        ctx.term()
        results.put(("server", name, served))
    except BaseException as e:  # report, don't hang the parent
        results.put(("server-error", name, repr(e)))
        raise


def _client(endpoint, name, rounds, go, results):
    """A DEALER that stays connected across server restarts. For each round, after `go` is set,
    sends 3 requests and waits for their replies, resending after 1 s without one (a request in
    flight when the server went away is lost, as with libzmq). Reports who answered each round."""
    try:
        ctx = zmq.Context()
        d = ctx.socket(zmq.DEALER)
        d.linger = 0
        d.connect(endpoint)
        for r in range(rounds):
            if not go[r].wait(30):
                raise TimeoutError(f"round {r} never started")
            answered_by = []
            for i in range(3):
                req = f"{name}:{r}:{i}".encode()
                deadline = time.monotonic() + 20
                while True:
                    assert time.monotonic() < deadline, f"no reply to {req!r}"
                    d.send_multipart([b"", req])
                    got = None
                    while d.poll(1000, zmq.POLLIN):
                        empty, server, echoed = d.recv_multipart()
                        assert empty == b""
                        if echoed == req:  # replies to earlier resends are stale
                            got = server.decode()
                            break
                    if got is not None:
                        answered_by.append(got)
                        break
            results.put(("client", name, r, answered_by))
        d.close()
        ctx.term()
    except BaseException as e:
        results.put(("client-error", name, repr(e)))
        raise


def _short_client(endpoint, name, n, results):
    """A REQ in a process of its own: connects, makes n round trips, closes, exits."""
    try:
        ctx = zmq.Context()
        req = ctx.socket(zmq.REQ)
        req.linger = 0
        req.rcvtimeo = TIMEOUT_MS
        req.sndtimeo = TIMEOUT_MS
        req.connect(endpoint)
        servers = []
        for i in range(n):
            payload = f"{name}:{i}".encode()
            req.send(payload)
            server, echoed = req.recv_multipart()
            assert echoed == payload
            servers.append(server.decode())
        req.close()
        ctx.term()
        results.put(("short-client", name, servers))
    except BaseException as e:
        results.put(("client-error", name, repr(e)))
        raise


def _get(results, timeout=30):
    item = results.get(timeout=timeout)
    assert not item[0].endswith("-error"), item
    return item


def _join(proc, timeout=30):
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise AssertionError(f"{proc.name} did not exit")
    assert proc.exitcode == 0, f"{proc.name} exited with {proc.exitcode}"


def test_processes_close_and_reconnect(transport, ipc_dir):
    if transport == "tcp":
        endpoint = f"tcp://127.0.0.1:{free_tcp_port()}"
    else:
        endpoint = f"ipc://{ipc_dir}/proc"
    mp = multiprocessing.get_context("spawn")  # no fork of a process that runs zmq's threads
    results = mp.Queue()
    go = [mp.Event() for _ in range(2)]
    procs = []
    try:
        # The long-lived client connects before any server is bound.
        client = mp.Process(target=_client, args=(endpoint, "c1", 2, go, results), name="client c1")
        client.start()
        procs.append(client)

        def start_server(name):
            ready, stop = mp.Event(), mp.Event()
            p = mp.Process(target=_server, args=(endpoint, name, ready, stop, results), name=name)
            p.start()
            procs.append(p)
            assert ready.wait(30), f"{name} did not bind"
            return p, stop

        s1, stop1 = start_server("s1")
        go[0].set()
        assert _get(results) == ("client", "c1", 0, ["s1"] * 3)
        # Short-lived clients, one process each, come and go while s1 runs.
        for i in range(2):
            p = mp.Process(target=_short_client, args=(endpoint, f"short{i}", 3, results), name=f"short{i}")
            p.start()
            procs.append(p)
            assert _get(results) == ("short-client", f"short{i}", ["s1"] * 3)
            _join(p)
        # The server closes and its process exits; a new one binds the same endpoint, and the
        # long-lived client, which kept its socket, reconnects to it.
        stop1.set()
        _join(s1)
        item = _get(results)
        assert item[:2] == ("server", "s1") and item[2] >= 9, item
        s2, stop2 = start_server("s2")
        go[1].set()
        assert _get(results) == ("client", "c1", 1, ["s2"] * 3)
        _join(client)
        # A fresh client process after the long-lived one closed.
        p = mp.Process(target=_short_client, args=(endpoint, "late", 2, results), name="late")
        p.start()
        procs.append(p)
        assert _get(results) == ("short-client", "late", ["s2"] * 2)
        _join(p)
        stop2.set()
        _join(s2)
        item = _get(results)
        assert item[:2] == ("server", "s2") and item[2] >= 5, item
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
