/* zmq_proxy, zmq_proxy_steerable and zmq_device through oxmq's C API. */
#include <zmq.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"

/* A proxy running in its own thread; it closes its sockets when the call returns. */
struct proxy_run
{
    void *frontend, *backend, *capture, *control;
    int device; /* zmq_device instead of zmq_proxy_steerable */
    int rc, err;
};

static void *proxy_thread (void *arg)
{
    struct proxy_run *run = arg;
    if (run->device)
        run->rc = zmq_device (ZMQ_QUEUE, run->frontend, run->backend);
    else if (run->control)
        run->rc = zmq_proxy_steerable (run->frontend, run->backend, run->capture, run->control);
    else
        run->rc = zmq_proxy (run->frontend, run->backend, run->capture);
    run->err = errno;
    void *sockets[] = {run->frontend, run->backend, run->capture, run->control};
    for (int i = 0; i < 4; i++)
        if (sockets[i])
            zmq_close (sockets[i]);
    return NULL;
}

static void *bound (void *ctx, int type, const char *endpoint)
{
    void *s = zmq_socket (ctx, type);
    int zero = 0;
    CHECK (zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK (zmq_bind (s, endpoint) == 0);
    return s;
}

static void *connected (void *ctx, int type, const char *endpoint)
{
    void *s = zmq_socket (ctx, type);
    int zero = 0, timeout = 5000;
    CHECK (zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK (zmq_setsockopt (s, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    CHECK (zmq_connect (s, endpoint) == 0);
    return s;
}

/* Receives one frame and checks its content and whether more follow. */
static void expect_frame (void *s, const void *data, size_t size, int more)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int rc = zmq_msg_recv (&msg, s, 0);
    CHECK (rc == (int) size);
    if (rc == (int) size)
        CHECK (memcmp (zmq_msg_data (&msg), data, size) == 0);
    CHECK (zmq_msg_more (&msg) == more);
    zmq_msg_close (&msg);
}

static void expect_string (void *s, const char *text, int more)
{
    expect_frame (s, text, strlen (text), more);
}

/* Receives a routing id frame (any content), with more after it. */
static size_t skip_routing_id (void *s, char *id)
{
    int rc = zmq_recv (s, id, 256, 0);
    CHECK (rc > 0 && rc <= 256);
    int more = 0;
    size_t len = sizeof more;
    CHECK (zmq_getsockopt (s, ZMQ_RCVMORE, &more, &len) == 0 && more == 1);
    return rc > 0 ? (size_t) rc : 0;
}

/* A shared queue: REQ clients -> ROUTER | proxy | DEALER -> REP workers, multi-part requests
   and replies, every frame copied to the capture socket; the proxy ends with ETERM when the
   context is terminated. */
static void shared_queue (void)
{
    void *ctx = zmq_ctx_new ();
    struct proxy_run run = {0};
    run.frontend = bound (ctx, ZMQ_ROUTER, "inproc://queue-front");
    run.backend = bound (ctx, ZMQ_DEALER, "inproc://queue-back");
    run.capture = bound (ctx, ZMQ_PUSH, "inproc://queue-capture");
    void *tap = connected (ctx, ZMQ_PULL, "inproc://queue-capture");
    void *client = connected (ctx, ZMQ_REQ, "inproc://queue-front");
    void *worker = connected (ctx, ZMQ_REP, "inproc://queue-back");
    pthread_t thread;
    pthread_create (&thread, NULL, proxy_thread, &run);

    char big[5000];
    memset (big, 'x', sizeof big);
    for (int round = 0; round < 20; round++) {
        big[0] = (char) ('a' + round);
        CHECK (zmq_send (client, "request", 7, ZMQ_SNDMORE) == 7);
        CHECK (zmq_send (client, big, sizeof big, ZMQ_SNDMORE) == (int) sizeof big);
        CHECK (zmq_send (client, "end", 3, 0) == 3);
        expect_string (worker, "request", 1);
        expect_frame (worker, big, sizeof big, 1);
        expect_string (worker, "end", 0);
        CHECK (zmq_send (worker, "reply", 5, ZMQ_SNDMORE) == 5);
        CHECK (zmq_send (worker, big, 100, 0) == 100);
        expect_string (client, "reply", 1);
        expect_frame (client, big, 100, 0);

        /* The capture saw the request as the ROUTER gave it (routing id, delimiter, body)
           and the reply as the DEALER gave it (the same envelope back). */
        char id[256], reply_id[256];
        size_t id_len = skip_routing_id (tap, id);
        expect_string (tap, "", 1);
        expect_string (tap, "request", 1);
        expect_frame (tap, big, sizeof big, 1);
        expect_string (tap, "end", 0);
        size_t reply_id_len = skip_routing_id (tap, reply_id);
        CHECK (reply_id_len == id_len && memcmp (id, reply_id, id_len) == 0);
        expect_string (tap, "", 1);
        expect_string (tap, "reply", 1);
        expect_frame (tap, big, 100, 0);
    }
    /* Nothing else went to the capture. */
    char buf[16];
    CHECK_ERRNO (EAGAIN, zmq_recv (tap, buf, sizeof buf, ZMQ_DONTWAIT));

    zmq_close (tap);
    zmq_close (client);
    zmq_close (worker);
    CHECK (zmq_ctx_term (ctx) == 0); /* returns once the proxy closed its sockets */
    pthread_join (thread, NULL);
    CHECK (run.rc == -1 && run.err == ETERM);
}

struct stats
{
    uint64_t v[8]; /* frontend in, bytes in, out, bytes out; the same for the backend */
};

static struct stats statistics (void *control)
{
    struct stats stats;
    memset (&stats, 0xff, sizeof stats);
    CHECK (zmq_send (control, "STATISTICS", 10, 0) == 10);
    for (int i = 0; i < 8; i++) {
        CHECK (zmq_recv (control, &stats.v[i], sizeof stats.v[i], 0) == 8);
        int more = -1;
        size_t len = sizeof more;
        CHECK (zmq_getsockopt (control, ZMQ_RCVMORE, &more, &len) == 0 && more == (i < 7));
    }
    return stats;
}

static void expect_stats (void *control, uint64_t front_in, uint64_t front_bytes,
                          uint64_t back_out, uint64_t back_bytes)
{
    struct stats s = statistics (control);
    CHECK (s.v[0] == front_in && s.v[1] == front_bytes);
    CHECK (s.v[2] == 0 && s.v[3] == 0 && s.v[4] == 0 && s.v[5] == 0);
    CHECK (s.v[6] == back_out && s.v[7] == back_bytes);
    if (s.v[0] != front_in || s.v[1] != front_bytes || s.v[6] != back_out
        || s.v[7] != back_bytes)
        fprintf (stderr, "stats: %llu %llu %llu %llu | %llu %llu %llu %llu\n",
                 (unsigned long long) s.v[0], (unsigned long long) s.v[1],
                 (unsigned long long) s.v[2], (unsigned long long) s.v[3],
                 (unsigned long long) s.v[4], (unsigned long long) s.v[5],
                 (unsigned long long) s.v[6], (unsigned long long) s.v[7]);
}

/* A streamer steered over a PAIR: a backend with no peer holds messages back in the
   frontend; STATISTICS counts messages and bytes (a multi-part message once); PAUSE stops
   forwarding until RESUME; TERMINATE makes the call return 0. Commands go to the capture
   too. */
static void steerable (void)
{
    void *ctx = zmq_ctx_new ();
    struct proxy_run run = {0};
    run.frontend = bound (ctx, ZMQ_PULL, "inproc://steer-front");
    run.backend = bound (ctx, ZMQ_PUSH, "inproc://steer-back");
    run.capture = bound (ctx, ZMQ_PAIR, "inproc://steer-capture");
    run.control = bound (ctx, ZMQ_PAIR, "inproc://steer-control");
    void *tap = connected (ctx, ZMQ_PAIR, "inproc://steer-capture");
    void *control = connected (ctx, ZMQ_PAIR, "inproc://steer-control");
    void *source = connected (ctx, ZMQ_PUSH, "inproc://steer-front");
    pthread_t thread;
    pthread_create (&thread, NULL, proxy_thread, &run);

    /* No sink yet: the backend cannot send, so the proxy leaves the message alone. */
    CHECK (zmq_send (source, "one", 3, 0) == 3);
    usleep (100 * 1000);
    expect_stats (control, 0, 0, 0, 0);

    void *sink = connected (ctx, ZMQ_PULL, "inproc://steer-back");
    expect_string (sink, "one", 0);
    CHECK (zmq_send (source, "two", 3, ZMQ_SNDMORE) == 3);
    CHECK (zmq_send (source, "parts", 5, 0) == 5);
    expect_string (sink, "two", 1);
    expect_string (sink, "parts", 0);
    expect_stats (control, 2, 11, 2, 11);

    /* Paused (the STATISTICS round trip makes sure it is): nothing moves, commands are
       still obeyed. */
    CHECK (zmq_send (control, "PAUSE", 5, 0) == 5);
    expect_stats (control, 2, 11, 2, 11);
    CHECK (zmq_send (source, "three", 5, 0) == 5);
    int short_wait = 200;
    CHECK (zmq_setsockopt (sink, ZMQ_RCVTIMEO, &short_wait, sizeof short_wait) == 0);
    char buf[16];
    CHECK_ERRNO (EAGAIN, zmq_recv (sink, buf, sizeof buf, 0));
    expect_stats (control, 2, 11, 2, 11);

    CHECK (zmq_send (control, "RESUME", 6, 0) == 6);
    int long_wait = 5000;
    CHECK (zmq_setsockopt (sink, ZMQ_RCVTIMEO, &long_wait, sizeof long_wait) == 0);
    expect_string (sink, "three", 0);
    expect_stats (control, 3, 16, 3, 16);

    CHECK (zmq_send (control, "TERMINATE", 9, 0) == 9);
    pthread_join (thread, NULL);
    CHECK (run.rc == 0);

    /* The capture got every frame forwarded and every command, in order. */
    expect_string (tap, "STATISTICS", 0);
    expect_string (tap, "one", 0);
    expect_string (tap, "two", 1);
    expect_string (tap, "parts", 0);
    expect_string (tap, "STATISTICS", 0);
    expect_string (tap, "PAUSE", 0);
    expect_string (tap, "STATISTICS", 0);
    expect_string (tap, "STATISTICS", 0);
    expect_string (tap, "RESUME", 0);
    expect_string (tap, "three", 0);
    expect_string (tap, "STATISTICS", 0);
    expect_string (tap, "TERMINATE", 0);
    CHECK_ERRNO (EAGAIN, zmq_recv (tap, buf, sizeof buf, ZMQ_DONTWAIT));

    zmq_close (tap);
    zmq_close (control);
    zmq_close (source);
    zmq_close (sink);
    CHECK (zmq_ctx_term (ctx) == 0);
}

/* zmq_device is zmq_proxy without a capture; it too ends with ETERM. */
static void device (void)
{
    void *ctx = zmq_ctx_new ();
    struct proxy_run run = {0};
    run.device = 1;
    run.frontend = bound (ctx, ZMQ_PULL, "inproc://device-front");
    run.backend = bound (ctx, ZMQ_PUSH, "inproc://device-back");
    void *source = connected (ctx, ZMQ_PUSH, "inproc://device-front");
    void *sink = connected (ctx, ZMQ_PULL, "inproc://device-back");
    pthread_t thread;
    pthread_create (&thread, NULL, proxy_thread, &run);
    for (int i = 0; i < 100; i++) {
        CHECK (zmq_send (source, "job", 3, ZMQ_SNDMORE) == 3);
        CHECK (zmq_send (source, &i, sizeof i, 0) == (int) sizeof i);
    }
    for (int i = 0; i < 100; i++) {
        expect_string (sink, "job", 1);
        expect_frame (sink, &i, sizeof i, 0);
    }
    zmq_close (source);
    zmq_close (sink);
    CHECK (zmq_ctx_term (ctx) == 0);
    pthread_join (thread, NULL);
    CHECK (run.rc == -1 && run.err == ETERM);
}

/* Bad sockets fail at once. */
static void bad_sockets (void)
{
    void *ctx = zmq_ctx_new ();
    void *a = zmq_socket (ctx, ZMQ_PULL);
    void *b = zmq_socket (ctx, ZMQ_PUSH);
    void *closed = zmq_socket (ctx, ZMQ_PAIR);
    zmq_close (closed);
    CHECK_ERRNO (EFAULT, zmq_proxy (NULL, b, NULL));
    CHECK_ERRNO (EFAULT, zmq_proxy (a, NULL, NULL));
    CHECK_ERRNO (EFAULT, zmq_proxy_steerable (NULL, b, NULL, NULL));
    CHECK_ERRNO (EFAULT, zmq_device (ZMQ_STREAMER, a, NULL));
    CHECK_ERRNO (ENOTSOCK, zmq_proxy (closed, b, NULL));
    CHECK_ERRNO (ENOTSOCK, zmq_proxy (a, b, closed));
    CHECK_ERRNO (ENOTSOCK, zmq_proxy_steerable (a, b, NULL, closed));
    /* Sockets of a context shut down: ETERM straight away. */
    CHECK (zmq_ctx_shutdown (ctx) == 0);
    CHECK_ERRNO (ETERM, zmq_proxy (a, b, NULL));
    zmq_close (a);
    zmq_close (b);
    CHECK (zmq_ctx_term (ctx) == 0);
}

int main (void)
{
    shared_queue ();
    steerable ();
    device ();
    bad_sockets ();
    CHECK_DONE ();
}
