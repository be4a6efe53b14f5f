/* Frames, messages and options through oxmq's C API, over inproc, ipc and tcp. */
#include <zmq.h>
#include <stdint.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"

static void endpoint_pair (void *ctx, const char *bind_to, int bind_type, int connect_type,
                           void **bound, void **connected)
{
    char endpoint[256];
    size_t len = sizeof endpoint;
    *bound = zmq_socket (ctx, bind_type);
    *connected = zmq_socket (ctx, connect_type);
    CHECK (zmq_bind (*bound, bind_to) == 0);
    CHECK (zmq_getsockopt (*bound, ZMQ_LAST_ENDPOINT, endpoint, &len) == 0);
    CHECK (len == strlen (endpoint) + 1);
    CHECK (zmq_connect (*connected, endpoint) == 0);
}

/* A three-frame message sent frame by frame arrives whole, with RCVMORE on all but the last,
   through zmq_recv, zmq_msg_recv and zmq_recviov. */
static void multipart (void *ctx, const char *bind_to)
{
    void *pull, *push;
    endpoint_pair (ctx, bind_to, ZMQ_PULL, ZMQ_PUSH, &pull, &push);
    int timeout = 5000;
    CHECK (zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);

    char big[1000];
    memset (big, 'b', sizeof big);
    for (int round = 0; round < 3; round++) {
        CHECK (zmq_send (push, "first", 5, ZMQ_SNDMORE) == 5);
        zmq_msg_t msg;
        CHECK (zmq_msg_init_size (&msg, sizeof big) == 0);
        memcpy (zmq_msg_data (&msg), big, sizeof big);
        CHECK (zmq_msg_send (&msg, push, ZMQ_SNDMORE) == (int) sizeof big);
        CHECK (zmq_msg_size (&msg) == 0);
        CHECK (zmq_msg_close (&msg) == 0);
        CHECK (zmq_send_const (push, "last", 4, 0) == 4);

        char buf[2000];
        int more = -1;
        size_t len = sizeof more;
        if (round == 0) {
            CHECK (zmq_recv (pull, buf, 3, 0) == 5); /* truncated: full size back */
            CHECK (memcmp (buf, "fir", 3) == 0);
            CHECK (zmq_getsockopt (pull, ZMQ_RCVMORE, &more, &len) == 0 && more == 1);
            CHECK (zmq_recv (pull, buf, sizeof buf, 0) == (int) sizeof big);
            CHECK (memcmp (buf, big, sizeof big) == 0);
            CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 4);
            CHECK (zmq_getsockopt (pull, ZMQ_RCVMORE, &more, &len) == 0 && more == 0);
        } else if (round == 1) {
            CHECK (zmq_msg_init (&msg) == 0);
            CHECK (zmq_msg_recv (&msg, pull, 0) == 5 && zmq_msg_more (&msg) == 1);
            CHECK (zmq_msg_get (&msg, ZMQ_MORE) == 1);
            CHECK (zmq_msg_recv (&msg, pull, 0) == (int) sizeof big && zmq_msg_more (&msg));
            CHECK (memcmp (zmq_msg_data (&msg), big, sizeof big) == 0);
            CHECK (zmq_msg_recv (&msg, pull, 0) == 4 && !zmq_msg_more (&msg));
            CHECK (memcmp (zmq_msg_data (&msg), "last", 4) == 0);
            CHECK (zmq_msg_close (&msg) == 0);
        } else {
            struct iovec iov[5];
            size_t count = 5;
            CHECK (zmq_recviov (pull, iov, &count, 0) == 3);
            CHECK (count == 3);
            CHECK (iov[0].iov_len == 5 && memcmp (iov[0].iov_base, "first", 5) == 0);
            CHECK (iov[1].iov_len == sizeof big);
            CHECK (iov[2].iov_len == 4 && memcmp (iov[2].iov_base, "last", 4) == 0);
            for (size_t i = 0; i < count; i++)
                free (iov[i].iov_base);
        }
    }
    /* zmq_sendiov: the buffers as the frames of one message. */
    struct iovec parts[2] = {{(void *) "ab", 2}, {(void *) "cde", 3}};
    CHECK (zmq_sendiov (push, parts, 2, ZMQ_SNDMORE) == 3); /* the last ends it anyway */
    char buf[8];
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 2);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 3 && memcmp (buf, "cde", 3) == 0);
    zmq_close (push);
    zmq_close (pull);
}

/* ZMQ_EVENTS and zmq_poll see a waiting message, and stop seeing it once it is read. */
static void events_and_poll (void *ctx)
{
    void *pull, *push;
    endpoint_pair (ctx, "tcp://127.0.0.1:*", ZMQ_PULL, ZMQ_PUSH, &pull, &push);
    int events = 0;
    size_t len = sizeof events;
    CHECK (zmq_getsockopt (pull, ZMQ_EVENTS, &events, &len) == 0);
    CHECK (events == 0);
    zmq_pollitem_t items[2] = {{pull, 0, ZMQ_POLLIN, 0}, {NULL, -1, 0, 0}};
    int pipe_fds[2];
    CHECK (pipe (pipe_fds) == 0);
    items[1].fd = pipe_fds[0];
    items[1].events = ZMQ_POLLIN;
    CHECK (zmq_poll (items, 2, 20) == 0);
    CHECK (zmq_send (push, "m", 1, 0) == 1);
    CHECK (zmq_poll (items, 2, 5000) == 1);
    CHECK (items[0].revents == ZMQ_POLLIN && items[1].revents == 0);
    /* Level-triggered: still readable until read. */
    CHECK (zmq_poll (items, 2, 0) == 1);
    len = sizeof events;
    CHECK (zmq_getsockopt (pull, ZMQ_EVENTS, &events, &len) == 0 && events == ZMQ_POLLIN);
    char c;
    CHECK (zmq_recv (pull, &c, 1, 0) == 1);
    CHECK (zmq_poll (items, 2, 0) == 0);
    /* A raw descriptor wakes the poll. */
    CHECK (write (pipe_fds[1], "x", 1) == 1);
    CHECK (zmq_poll (items, 2, 5000) == 1 && items[1].revents == ZMQ_POLLIN);
    close (pipe_fds[0]);
    close (pipe_fds[1]);
    zmq_close (push);
    zmq_close (pull);
}

/* As in libzmq, the first frame of a message decides whether it can be sent. */
static void first_frame_decides (void *ctx)
{
    void *router = zmq_socket (ctx, ZMQ_ROUTER);
    int on = 1;
    CHECK (zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &on, sizeof on) == 0);
    CHECK_ERRNO (EHOSTUNREACH, zmq_send (router, "nobody", 6, ZMQ_SNDMORE));
    /* Nothing of the refused message is left over. */
    CHECK (zmq_bind (router, "inproc://first-frame") == 0);
    void *dealer = zmq_socket (ctx, ZMQ_DEALER);
    CHECK (zmq_setsockopt (dealer, ZMQ_ROUTING_ID, "d", 1) == 0);
    CHECK (zmq_connect (dealer, "inproc://first-frame") == 0);
    CHECK (zmq_send (router, "d", 1, ZMQ_SNDMORE) == 1);
    CHECK (zmq_send (router, "hello", 5, 0) == 5);
    char buf[8];
    CHECK (zmq_recv (dealer, buf, sizeof buf, 0) == 5 && memcmp (buf, "hello", 5) == 0);
    int more = -1;
    size_t len = sizeof more;
    CHECK (zmq_getsockopt (dealer, ZMQ_RCVMORE, &more, &len) == 0 && more == 0);

    void *req = zmq_socket (ctx, ZMQ_REQ);
    CHECK (zmq_connect (req, "inproc://first-frame") == 0);
    CHECK (zmq_send (req, "q", 1, 0) == 1);
    CHECK_ERRNO (EFSM, zmq_send (req, "again", 5, ZMQ_SNDMORE));
    /* A full pipe: the first frame of a message fails with EAGAIN under DONTWAIT. */
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    int hwm = 1;
    CHECK (zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, sizeof hwm) == 0);
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm) == 0);
    CHECK (zmq_bind (pull, "inproc://first-frame-full") == 0);
    CHECK (zmq_connect (push, "inproc://first-frame-full") == 0);
    int sent = 0;
    while (zmq_send (push, "x", 1, ZMQ_DONTWAIT) == 1)
        sent++;
    CHECK (sent >= 1 && errno == EAGAIN);
    CHECK_ERRNO (EAGAIN, zmq_send (push, "a", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT));
    zmq_close (push);
    zmq_close (pull);
    zmq_close (req);
    zmq_close (dealer);
    zmq_close (router);
}

/* The peer goes away between the frames of a message: what was sent of it is dropped with
   the connection, as in libzmq, and the next message reaches the next peer whole (oxmq once
   kept the first frames for a retry of the last and glued them to the next message). */
static void peer_lost_mid_message (void *ctx)
{
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/oxmq-frames-lost-%d", (int) getpid ());
    void *bound = zmq_socket (ctx, ZMQ_PAIR);
    void *pair = zmq_socket (ctx, ZMQ_PAIR);
    int ivl = -1, zero = 0; /* no reconnection: the connection's pipe dies with it */
    CHECK (zmq_setsockopt (pair, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) == 0);
    CHECK (zmq_setsockopt (bound, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK (zmq_bind (bound, endpoint) == 0);
    CHECK (zmq_connect (pair, endpoint) == 0);
    CHECK (zmq_send (pair, "hello", 5, 0) == 5);
    char buf[16];
    CHECK (zmq_recv (bound, buf, sizeof buf, 0) == 5);

    CHECK (zmq_send (pair, "head", 4, ZMQ_SNDMORE) == 4);
    zmq_close (bound);
    usleep (200 * 1000);
    /* The peer is gone: the message is dropped, and so is its last frame. */
    CHECK (zmq_send (pair, "tail", 4, ZMQ_DONTWAIT) == 4);

    bound = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (bound, endpoint) == 0);
    CHECK (zmq_connect (pair, endpoint) == 0);
    CHECK (zmq_send (pair, "one", 3, ZMQ_SNDMORE) == 3);
    CHECK (zmq_send (pair, "two", 3, 0) == 3);
    int more = -1;
    size_t len = sizeof more;
    CHECK (zmq_recv (bound, buf, sizeof buf, 0) == 3 && memcmp (buf, "one", 3) == 0);
    CHECK (zmq_getsockopt (bound, ZMQ_RCVMORE, &more, &len) == 0 && more == 1);
    CHECK (zmq_recv (bound, buf, sizeof buf, 0) == 3 && memcmp (buf, "two", 3) == 0);
    CHECK (zmq_getsockopt (bound, ZMQ_RCVMORE, &more, &len) == 0 && more == 0);
    zmq_close (pair);
    zmq_close (bound);
}

static void *send_later (void *socket)
{
    usleep (50 * 1000);
    zmq_send (socket, "late", 4, 0);
    return NULL;
}

/* ZMQ_FD: after ZMQ_EVENTS found nothing, the descriptor stays quiet until a message comes,
   then becomes readable; zmq_poll with no time limit wakes for a message sent later. */
static void signal_fd (void *ctx)
{
    void *pull, *push;
    endpoint_pair (ctx, "tcp://127.0.0.1:*", ZMQ_PULL, ZMQ_PUSH, &pull, &push);
    int fd = -1;
    size_t len = sizeof fd;
    CHECK (zmq_getsockopt (pull, ZMQ_FD, &fd, &len) == 0 && fd >= 0 && len == sizeof fd);
    int events = -1;
    len = sizeof events;
    /* The first look may report the descriptor itself; settle it. */
    struct pollfd pfd = {fd, POLLIN, 0};
    for (int i = 0; i < 3; i++) {
        CHECK (zmq_getsockopt (pull, ZMQ_EVENTS, &events, &len) == 0 && events == 0);
        if (poll (&pfd, 1, 50) == 0)
            break;
    }
    CHECK (poll (&pfd, 1, 50) == 0);
    CHECK (zmq_send (push, "m", 1, 0) == 1);
    CHECK (poll (&pfd, 1, 5000) == 1);
    CHECK (zmq_getsockopt (pull, ZMQ_EVENTS, &events, &len) == 0 && events == ZMQ_POLLIN);
    char buf[8];
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 1);

    pthread_t thread;
    pthread_create (&thread, NULL, send_later, push);
    zmq_pollitem_t item = {pull, 0, ZMQ_POLLIN, 0};
    CHECK (zmq_poll (&item, 1, -1) == 1 && item.revents == ZMQ_POLLIN);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 4);
    pthread_join (thread, NULL);
    zmq_close (push);
    zmq_close (pull);
}

/* zmq_msg_gets: a tcp connection's properties, none over inproc; the strings live as long as
   the message, copies and moves included. */
static void metadata (void *ctx)
{
    void *pull, *push;
    endpoint_pair (ctx, "tcp://127.0.0.1:*", ZMQ_PULL, ZMQ_PUSH, &pull, &push);
    int timeout = 5000;
    CHECK (zmq_setsockopt (pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout) == 0);
    CHECK (zmq_send (push, "a", 1, ZMQ_SNDMORE) == 1);
    CHECK (zmq_send (push, "b", 1, 0) == 1);
    zmq_msg_t msg, copy;
    CHECK (zmq_msg_init (&msg) == 0);
    CHECK (zmq_msg_init (&copy) == 0);
    CHECK (zmq_msg_recv (&msg, pull, 0) == 1);
    const char *type = zmq_msg_gets (&msg, "Socket-Type");
    CHECK (type != NULL && strcmp (type, "PUSH") == 0);
    const char *address = zmq_msg_gets (&msg, "Peer-Address");
    CHECK (address != NULL && strcmp (address, "127.0.0.1") == 0);
    CHECK_NULL_ERRNO (EINVAL, zmq_msg_gets (&msg, "User-Id"));
    CHECK (zmq_msg_get (&msg, ZMQ_SRCFD) >= 0);
    CHECK (zmq_msg_copy (&copy, &msg) == 0);
    CHECK (zmq_msg_recv (&msg, pull, 0) == 1); /* the second frame has it too */
    CHECK (zmq_msg_gets (&msg, "Socket-Type") != NULL);
    CHECK (zmq_msg_close (&msg) == 0);
    type = zmq_msg_gets (&copy, "socket-type");
    CHECK (type != NULL && strcmp (type, "PUSH") == 0);
    CHECK (zmq_msg_close (&copy) == 0);
    zmq_close (push);
    zmq_close (pull);

    endpoint_pair (ctx, "inproc://metadata", ZMQ_PULL, ZMQ_PUSH, &pull, &push);
    CHECK (zmq_send (push, "c", 1, 0) == 1);
    CHECK (zmq_msg_init (&msg) == 0);
    CHECK (zmq_msg_recv (&msg, pull, 0) == 1);
    CHECK_NULL_ERRNO (EINVAL, zmq_msg_gets (&msg, "Socket-Type"));
    CHECK (zmq_msg_get (&msg, ZMQ_SRCFD) == -1);
    CHECK (zmq_msg_close (&msg) == 0);
    zmq_close (push);
    zmq_close (pull);
}

/* Options keep libzmq's types and defaults and read back what was set. */
static void options (void *ctx)
{
    void *s = zmq_socket (ctx, ZMQ_DEALER);
    int value = 0;
    size_t len = sizeof value;
    CHECK (zmq_getsockopt (s, ZMQ_TYPE, &value, &len) == 0 && value == ZMQ_DEALER);
    CHECK (zmq_getsockopt (s, ZMQ_SNDHWM, &value, &len) == 0 && value == 1000);
    CHECK (zmq_getsockopt (s, ZMQ_LINGER, &value, &len) == 0 && value == -1);
    value = 42;
    CHECK (zmq_setsockopt (s, ZMQ_RCVHWM, &value, sizeof value) == 0);
    value = 0;
    CHECK (zmq_getsockopt (s, ZMQ_RCVHWM, &value, &len) == 0 && value == 42);
    int64_t max = 0;
    len = sizeof max;
    CHECK (zmq_getsockopt (s, ZMQ_MAXMSGSIZE, &max, &len) == 0 && max == -1 && len == 8);
    /* An int read into a larger buffer: the rest is zeroed, the length says 4. */
    int64_t wide = -1;
    len = sizeof wide;
    CHECK (zmq_getsockopt (s, ZMQ_RCVMORE, &wide, &len) == 0 && wide == 0 && len == 4);
    CHECK (zmq_setsockopt (s, ZMQ_ROUTING_ID, "me", 2) == 0);
    char id[8];
    len = sizeof id;
    CHECK (zmq_getsockopt (s, ZMQ_ROUTING_ID, id, &len) == 0 && len == 2);
    CHECK (memcmp (id, "me", 2) == 0);
    /* Not implemented yet: ENOTSUP, not a silently ignored value; reading gives libzmq's
       default, and setting the default changes nothing. */
    value = 1;
    CHECK_ERRNO (ENOTSUP, zmq_setsockopt (s, ZMQ_CURVE_SERVER, &value, sizeof value));
    value = 1000;
    CHECK_ERRNO (ENOTSUP, zmq_setsockopt (s, ZMQ_RATE, &value, sizeof value));
    value = -7;
    len = sizeof value;
    CHECK (zmq_getsockopt (s, ZMQ_RATE, &value, &len) == 0 && value == 100);
    CHECK (zmq_setsockopt (s, ZMQ_RATE, &value, sizeof value) == 0);
    /* The tcp options are set and read back (their effect: oxmq/tests/tcp_options.rs). */
    value = 250;
    CHECK (zmq_setsockopt (s, ZMQ_CONNECT_TIMEOUT, &value, sizeof value) == 0);
    value = 1;
    CHECK (zmq_setsockopt (s, ZMQ_TCP_KEEPALIVE, &value, sizeof value) == 0);
    value = 2;
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_TCP_KEEPALIVE, &value, sizeof value));
    len = sizeof value;
    CHECK (zmq_getsockopt (s, ZMQ_CONNECT_TIMEOUT, &value, &len) == 0 && value == 250);
    CHECK (zmq_getsockopt (s, ZMQ_TCP_KEEPALIVE, &value, &len) == 0 && value == 1);
    CHECK (zmq_getsockopt (s, ZMQ_TCP_MAXRT, &value, &len) == 0 && value == 0);
    CHECK (zmq_getsockopt (s, ZMQ_CURVE_SERVER, &value, &len) == 0 && value == 0);
    char domain[8] = "x";
    len = sizeof domain;
    CHECK (zmq_getsockopt (s, ZMQ_ZAP_DOMAIN, domain, &len) == 0 && len == 1 && domain[0] == 0);
    CHECK_ERRNO (ENOTSUP, zmq_setsockopt (s, ZMQ_ZAP_DOMAIN, "global", 6));
    zmq_close (s);

    /* Context defaults reach new sockets. */
    void *ctx2 = zmq_ctx_new ();
    CHECK (zmq_ctx_get (ctx2, ZMQ_IO_THREADS) == 1);
    CHECK (zmq_ctx_get (ctx2, ZMQ_MAX_SOCKETS) == 1023);
    CHECK (zmq_ctx_set (ctx2, ZMQ_IPV6, 1) == 0);
    CHECK (zmq_ctx_set (ctx2, ZMQ_BLOCKY, 0) == 0);
    CHECK (zmq_ctx_set (ctx2, ZMQ_MAX_SOCKETS, 2) == 0);
    void *a = zmq_socket (ctx2, ZMQ_PUSH), *b = zmq_socket (ctx2, ZMQ_PULL);
    CHECK (a != NULL && b != NULL);
    CHECK_NULL_ERRNO (EMFILE, zmq_socket (ctx2, ZMQ_PULL));
    len = sizeof value;
    CHECK (zmq_getsockopt (a, ZMQ_IPV6, &value, &len) == 0 && value == 1);
    CHECK (zmq_getsockopt (a, ZMQ_LINGER, &value, &len) == 0 && value == 0);
    zmq_close (b);
    b = zmq_socket (ctx2, ZMQ_PULL);
    CHECK (b != NULL);
    zmq_close (a);
    zmq_close (b);
    CHECK (zmq_ctx_term (ctx2) == 0);
}

int main (void)
{
    void *ctx = zmq_ctx_new ();
    multipart (ctx, "inproc://frames");
    multipart (ctx, "ipc://*");
    multipart (ctx, "tcp://127.0.0.1:*");
    events_and_poll (ctx);
    first_frame_decides (ctx);
    peer_lost_mid_message (ctx);
    signal_fd (ctx);
    metadata (ctx);
    options (ctx);
    int major = 0, minor = 0, patch = 0;
    zmq_version (&major, &minor, &patch);
    CHECK (major == ZMQ_VERSION_MAJOR && minor == ZMQ_VERSION_MINOR && patch == ZMQ_VERSION_PATCH);
    CHECK (zmq_has ("ipc") == 1 && zmq_has ("pgm") == 0);
    CHECK (strcmp (zmq_strerror (ETERM), "Context was terminated") == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
    CHECK_DONE ();
}
