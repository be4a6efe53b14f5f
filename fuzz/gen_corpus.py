#!/usr/bin/env python3
"""Writes the hand-made seed corpora under fuzz/corpus/<target>/.

Input layouts (see oxmq-proto/src/fuzzing.rs):
  decoder:        [chunk seed] [size-limit selector] stream...
  greeting:       raw greeting bytes
  null_handshake: [control: bit 7 = prepend a valid NULL greeting, rest =
                   chunk seed] [our socket type index] peer stream...
  connection:     [chunk seed] [params: bit 0 = peer minor, bits 1-2 = size
                   limit (none, 0, 16, 300), bits 3-7 = drain output every
                   n-th chunk] stream after the handshake...

Re-running overwrites the seeds (file names are stable); fuzzer-found
inputs kept as regressions are named regress-* and left alone.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# libzmq socket type numbers, which are the indexes into SocketType::ALL.
PAIR, PUB, SUB, REQ, REP, DEALER, ROUTER, PULL, PUSH = range(9)


def frame(body, more=False, command=False, force_long=False):
    flags = (0x04 if command else 0) | (0x01 if more else 0)
    if len(body) > 255 or force_long:
        return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body
    return bytes([flags, len(body)]) + body


def command(name, data=b""):
    return frame(bytes([len(name)]) + name + data, command=True)


def prop(name, value, value_len=None):
    n = len(value) if value_len is None else value_len
    return bytes([len(name)]) + name + struct.pack(">I", n) + value


def ready(*props):
    return command(b"READY", b"".join(props))


def greeting(mechanism=b"NULL", major=3, minor=1, as_server=0):
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes([major, minor])
            + mechanism.ljust(20, b"\x00") + bytes([as_server]) + b"\x00" * 31)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- decoder
dec = {
    "multipart": b"\x00\x00" + frame(b"abc", more=True) + frame(b""),
    "long-300": b"\x05\x00" + frame(b"x" * 300, more=True) + frame(b"end"),
    "long-size-2-63": b"\x07\x00" + b"\x02\x80" + b"\x00" * 7 + b"tail",
    "cve-2019-6250": b"\x02\x00" + b"\x02" + b"\xff" * 7 + b"\x00" + b"A" * 64,
    "all-ff": b"\xff" * 40,
    "command-with-more": b"\x01\x00\x05\x04PING",
    "too-large-limit": b"\x03\x01" + frame(b"hello"),
    "long-small-size": b"\x02\x00" + frame(b"abc", force_long=True),
    "reserved-bits": b"\x04\x00" + b"\xf9\x01x" + b"\xfc\x00",
    "ping-command": b"\x09\x00" + command(b"PING", b"\x00\x0a"),
    "truncated-long-header": b"\x01\x00\x02\x00\x00",
    "many-empty": b"\x11\x00" + frame(b"", more=True) * 30 + frame(b""),
    "limit-shift": b"\x20\x27" + frame(b"y" * 256) + frame(b"z" * 300),
}
for name, data in dec.items():
    write("decoder", name, data)

# --------------------------------------------------------------- greeting
g = greeting()
gre = {
    "null": g,
    "curve-server": greeting(b"CURVE", as_server=1),
    "cut-11": g[:11],
    "cut-1": g[:1],
    "cut-63": g[:63],
    "zmtp10-anonymous": b"\x01\x00\x08\x00sneaky\x00",
    "zmtp10-long-identity": b"\xff\x00\x00\x00\x20\x00\x00\x00\x00\x00" + b"\x00" * 20,
    "zmtp20": b"\xff" + b"\x00" * 7 + b"\x01\x7f\x01\x05" + b"\x00" * 10,
    "zmtp30": greeting(minor=0),
    "zmtp40": greeting(major=4, minor=0),
    "zmtp255": greeting(major=255, minor=255),
    "lowercase-mech": greeting(b"null"),
    "garbage-after-padding": g[:20] + b"X" + g[21:],
    "http-get": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "tls-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
    "all-ff": b"\xff" * 64,
}
for name, data in gre.items():
    write("greeting", name, data)

# --------------------------------------------------------- null_handshake
push_ready = ready(prop(b"Socket-Type", b"PUSH"))
hs = {
    # PULL receiving a full PUSH handshake then a two-frame message.
    "valid-push": bytes([0x00, PULL]) + g + push_ready
    + frame(b"hi", more=True) + frame(b""),
    # Same, greeting prepended by the harness, fed in small chunks.
    "valid-push-prepended": bytes([0x83, PULL]) + push_ready + frame(b"x"),
    "dealer-identity": bytes([0x85, ROUTER]) + ready(
        prop(b"Socket-Type", b"DEALER"), prop(b"Identity", b"\x00id"),
        prop(b"X-App", b"demo")),
    "identity-256": bytes([0x80, ROUTER]) + ready(
        prop(b"Socket-Type", b"DEALER"), prop(b"Identity", b"i" * 256)),
    "curve-mismatch": bytes([0x00, PULL]) + greeting(b"CURVE"),
    "missing-socket-type": bytes([0x80, PULL]) + ready(prop(b"X-A", b"1")),
    "short-ping": bytes([0x80, PULL]) + b"\x04\x05\x04PING",
    "lying-value-length": bytes([0x80, PULL]) + ready(
        prop(b"Socket-Type", b"PUSH", value_len=0xFFFFFFF0)),
    "zero-length-name": bytes([0x80, PULL]) + ready(b"\x00\x00\x00\x00\x00"),
    "duplicate-socket-type": bytes([0x80, PULL]) + ready(
        prop(b"Socket-Type", b"PUSH"), prop(b"socket-type", b"PUSH")),
    "data-frame-first": bytes([0x80, PULL]) + frame(b"sneaky"),
    "huge-command": bytes([0x80, PULL]) + b"\x06" + struct.pack(">Q", 0x10001),
    "error-400": bytes([0x80, PULL]) + command(b"ERROR", b"\x03400"),
    "zmtp10-sneaky": bytes([0x00, PULL]) + b"\x01\x00\x08\x00sneaky\x00",
    "zmtp20": bytes([0x00, PULL]) + b"\xff" + b"\x00" * 7 + b"\x01\x7f\x01\x08",
    "incompatible-push-push": bytes([0x80, PUSH]) + push_ready,
    "cve-2019-6250": bytes([0x80, PULL]) + b"\x02" + b"\xff" * 7 + b"\x00",
}
for name, data in hs.items():
    write("null_handshake", name, data)

# ------------------------------------------------------------- connection
def ping(ttl, context=b""):
    return command(b"PING", struct.pack(">H", ttl) + context)


conn = {
    # Multipart messages with PING/PONG/unknown commands between frames.
    "multipart-with-commands": b"\x00\x09" + frame(b"a", more=True)
    + ping(10, b"ctx") + frame(b"", more=True) + command(b"JOIN", b"g")
    + frame(b"x" * 300) + frame(b"single") + command(b"PONG", b"ctx"),
    "subscribe-cancel": b"\x03\x01" + command(b"SUBSCRIBE", b"topic")
    + command(b"CANCEL", b"topic") + command(b"SUBSCRIBE"),
    # ZMTP 3.0 peer: subscriptions as data messages.
    "zmtp30-subscriptions": b"\x05\x00" + frame(b"\x01topic") + frame(b"\x00topic"),
    # A peer that pings without reading: output must stay at a few PONGs (MAX_PENDING_PONGS).
    "ping-flood": b"\x07\xf9" + b"".join(
        ping(i, bytes([i]) * 16) for i in range(200)),
    "ping-long-context": b"\x01\x01" + ping(1, bytes(range(58))),
    "ping-max-ttl": b"\x02\x01" + ping(0xFFFF) + frame(b"after"),
    "error": b"\x00\x01" + frame(b"before") + command(b"ERROR", b"\x04boom")
    + frame(b"after"),
    "short-ping": b"\x00\x01" + b"\x04\x05\x04PING",
    "ping-one-ttl-byte": b"\x00\x01" + command(b"PING", b"\x00"),
    "error-reason-past-end": b"\x00\x01" + command(b"ERROR", b"\x09short"),
    "zero-length-name": b"\x00\x01" + frame(b"\x00PING\x00\x01", command=True),
    "name-past-end": b"\x00\x01" + frame(b"\x09PING", command=True),
    "empty-command": b"\x00\x01" + frame(b"", command=True),
    "command-with-more": b"\x00\x01" + b"\x05\x07\x04PING\x00\x00",
    "too-large": b"\x04\x05" + frame(b"y" * 17) + frame(b"z"),
    "huge-announced": b"\x00\x01" + b"\x02" + struct.pack(">Q", 1 << 62) + b"A",
    "size-2-63": b"\x00\x01" + b"\x02\x80" + b"\x00" * 7,
    "ready-after-handshake": b"\x06\x01" + ready(prop(b"Socket-Type", b"PUSH"))
    + command(b"READY", b"\x00\x00") + frame(b"ok"),
}
for name, data in conn.items():
    write("connection", name, data)

print("wrote", len(dec), len(gre), len(hs), len(conn), "seeds")
