/* Bad input at oxmq's C boundary: every call returns -1 (or NULL) with libzmq's errno, and
   none crashes. */
#include <zmq.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static void null_pointers (void)
{
    char buf[16];
    size_t len = sizeof buf;
    zmq_msg_t msg;
    /* A NULL context is EFAULT, a NULL socket ENOTSOCK, as in libzmq. */
    CHECK_NULL_ERRNO (EFAULT, zmq_socket (NULL, ZMQ_PAIR));
    CHECK_ERRNO (EFAULT, zmq_ctx_term (NULL));
    CHECK_ERRNO (EFAULT, zmq_ctx_shutdown (NULL));
    CHECK_ERRNO (EFAULT, zmq_ctx_set (NULL, ZMQ_IO_THREADS, 1));
    CHECK_ERRNO (EFAULT, zmq_ctx_get (NULL, ZMQ_IO_THREADS));
    CHECK_ERRNO (ENOTSOCK, zmq_close (NULL));
    CHECK_ERRNO (ENOTSOCK, zmq_bind (NULL, "inproc://x"));
    CHECK_ERRNO (ENOTSOCK, zmq_connect (NULL, "inproc://x"));
    CHECK_ERRNO (ENOTSOCK, zmq_unbind (NULL, "inproc://x"));
    CHECK_ERRNO (ENOTSOCK, zmq_disconnect (NULL, "inproc://x"));
    CHECK_ERRNO (ENOTSOCK, zmq_send (NULL, "x", 1, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_send_const (NULL, "x", 1, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_recv (NULL, buf, sizeof buf, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_setsockopt (NULL, ZMQ_LINGER, buf, sizeof (int)));
    CHECK_ERRNO (ENOTSOCK, zmq_getsockopt (NULL, ZMQ_LINGER, buf, &len));
    CHECK (zmq_msg_init (&msg) == 0);
    CHECK_ERRNO (ENOTSOCK, zmq_msg_send (&msg, NULL, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_msg_recv (&msg, NULL, 0));
    CHECK (zmq_msg_close (&msg) == 0);
    /* NULL messages. */
    CHECK_ERRNO (EFAULT, zmq_msg_init (NULL));
    CHECK_ERRNO (EFAULT, zmq_msg_init_size (NULL, 10));
    CHECK_ERRNO (EFAULT, zmq_msg_init_data (NULL, buf, 1, NULL, NULL));
    CHECK_ERRNO (EFAULT, zmq_msg_close (NULL));
    CHECK_ERRNO (EFAULT, zmq_msg_more (NULL));
    CHECK_NULL_ERRNO (EFAULT, zmq_msg_data (NULL));
    CHECK_ERRNO (EFAULT, zmq_msg_get (NULL, ZMQ_MORE));
    CHECK_ERRNO (ENOTSOCK, zmq_socket_monitor (NULL, "inproc://monitor", ZMQ_EVENT_ALL));
    /* NULL items for zmq_poll. */
    CHECK_ERRNO (EFAULT, zmq_poll (NULL, 1, 0));
}

static void bad_arguments (void *ctx)
{
    void *s = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (s != NULL);
    char buf[64];
    size_t len;
    int value = 0;
    int64_t big = 0;
    /* Unknown socket types, including the draft ones this library does not offer. */
    CHECK_NULL_ERRNO (EINVAL, zmq_socket (ctx, 99));
    CHECK_NULL_ERRNO (EINVAL, zmq_socket (ctx, -1));
    CHECK_NULL_ERRNO (EINVAL, zmq_socket (ctx, 12 /* ZMQ_SERVER, draft */));
    /* Endpoints: NULL, malformed, unknown transport. */
    CHECK_ERRNO (EINVAL, zmq_bind (s, NULL));
    CHECK_ERRNO (EINVAL, zmq_connect (s, NULL));
    CHECK_ERRNO (EINVAL, zmq_bind (s, "tcp://"));
    CHECK_ERRNO (EINVAL, zmq_bind (s, "no-transport"));
    CHECK_ERRNO (EPROTONOSUPPORT, zmq_bind (s, "carrier-pigeon://coop"));
    CHECK_ERRNO (EPROTONOSUPPORT, zmq_connect (s, "pgm://eth0;239.192.1.1:5555"));
    CHECK_ERRNO (ENOENT, zmq_unbind (s, "tcp://127.0.0.1:1"));
    /* Options: wrong size, unknown id, value out of range, buffer too small. */
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_LINGER, &value, 2));
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_LINGER, &big, sizeof big));
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_MAXMSGSIZE, &value, sizeof value));
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, 12345, &value, sizeof value));
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, -7, &value, sizeof value));
    value = -2;
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_SNDTIMEO, &value, sizeof value));
    CHECK_ERRNO (EINVAL, zmq_setsockopt (s, ZMQ_SUBSCRIBE, "a", 1)); /* not a SUB */
    CHECK_ERRNO (EFAULT, zmq_setsockopt (s, ZMQ_ROUTING_ID, NULL, 5));
    len = 2;
    CHECK_ERRNO (EINVAL, zmq_getsockopt (s, ZMQ_LINGER, &value, &len));
    len = sizeof value;
    CHECK_ERRNO (EINVAL, zmq_getsockopt (s, 12345, &value, &len));
    CHECK_ERRNO (EFAULT, zmq_getsockopt (s, ZMQ_LINGER, NULL, &len));
    CHECK_ERRNO (EFAULT, zmq_getsockopt (s, ZMQ_LINGER, &value, NULL));
    CHECK (zmq_bind (s, "inproc://boundary-endpoint") == 0);
    len = 4; /* shorter than the endpoint and its NUL */
    CHECK_ERRNO (EINVAL, zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, buf, &len));
    /* Buffers: NULL with a length, and a length no buffer can have. */
    CHECK_ERRNO (EFAULT, zmq_send (s, NULL, 5, ZMQ_DONTWAIT));
    CHECK_ERRNO (EFAULT, zmq_recv (s, NULL, 5, ZMQ_DONTWAIT));
    CHECK_ERRNO (EINVAL, zmq_send (s, buf, (size_t) -1, ZMQ_DONTWAIT));
    CHECK_ERRNO (EINVAL, zmq_recv (s, buf, (size_t) -1, ZMQ_DONTWAIT));
    CHECK_ERRNO (EAGAIN, zmq_recv (s, buf, sizeof buf, ZMQ_DONTWAIT));
    /* The monitor only speaks inproc, takes the 16 bits of event version 1, and binds its
       address like any socket. */
    CHECK_ERRNO (EPROTONOSUPPORT, zmq_socket_monitor (s, "tcp://127.0.0.1:*", 0));
    CHECK_ERRNO (EINVAL, zmq_socket_monitor (s, "no-transport", ZMQ_EVENT_ALL));
    CHECK_ERRNO (EINVAL, zmq_socket_monitor (s, "inproc://boundary-mon", 0x10000));
    CHECK_ERRNO (EINVAL, zmq_socket_monitor (s, "inproc://boundary-mon", -1));
    CHECK_ERRNO (EADDRINUSE,
                 zmq_socket_monitor (s, "inproc://boundary-endpoint", ZMQ_EVENT_ALL));
    CHECK (zmq_socket_monitor (s, "inproc://boundary-mon", ZMQ_EVENT_ALL) == 0);
    /* Monitoring again at the same address: the first monitor is stopped first. */
    CHECK (zmq_socket_monitor (s, "inproc://boundary-mon", ZMQ_EVENT_ALL) == 0);
    CHECK (zmq_socket_monitor (s, NULL, 0) == 0);
    CHECK (zmq_socket_monitor (s, NULL, 0) == 0);
    /* Polling: a negative count, a closed socket among the items. */
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    CHECK_ERRNO (EINVAL, zmq_poll (&item, -1, 0));
    /* Context options. */
    CHECK_ERRNO (EINVAL, zmq_ctx_set (ctx, ZMQ_IO_THREADS, -1));
    CHECK_ERRNO (EINVAL, zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, 0));
    CHECK_ERRNO (EINVAL, zmq_ctx_set (ctx, 9999, 1));
    CHECK_ERRNO (EINVAL, zmq_ctx_get (ctx, 9999));
    CHECK_ERRNO (EINVAL, zmq_ctx_set (ctx, ZMQ_MSG_T_SIZE, 64));
    CHECK (zmq_ctx_get (ctx, ZMQ_MSG_T_SIZE) == (int) sizeof (zmq_msg_t));
    /* A closed socket is ENOTSOCK everywhere, a second close included. */
    CHECK (zmq_close (s) == 0);
    CHECK_ERRNO (ENOTSOCK, zmq_close (s));
    CHECK_ERRNO (ENOTSOCK, zmq_send (s, "x", 1, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_recv (s, buf, sizeof buf, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_bind (s, "inproc://y"));
    len = sizeof value;
    CHECK_ERRNO (ENOTSOCK, zmq_getsockopt (s, ZMQ_TYPE, &value, &len));
    CHECK_ERRNO (ENOTSOCK, zmq_poll (&item, 1, 0));
}

static void messages_after_close (void)
{
    zmq_msg_t msg, other;
    CHECK (zmq_msg_init_size (&msg, 100) == 0);
    CHECK (zmq_msg_size (&msg) == 100);
    CHECK (zmq_msg_close (&msg) == 0);
    /* Used after close: EFAULT, never a double free. */
    CHECK_ERRNO (EFAULT, zmq_msg_close (&msg));
    CHECK_NULL_ERRNO (EFAULT, zmq_msg_data (&msg));
    CHECK_ERRNO (EFAULT, zmq_msg_more (&msg));
    CHECK_ERRNO (EFAULT, zmq_msg_get (&msg, ZMQ_MORE));
    CHECK (zmq_msg_init (&other) == 0);
    CHECK_ERRNO (EFAULT, zmq_msg_copy (&other, &msg));
    CHECK_ERRNO (EFAULT, zmq_msg_move (&other, &msg));
    CHECK_ERRNO (EFAULT, zmq_msg_copy (&msg, &other));
    CHECK (zmq_msg_close (&other) == 0);
    /* Unknown properties. */
    CHECK (zmq_msg_init (&msg) == 0);
    CHECK_ERRNO (EINVAL, zmq_msg_get (&msg, 999));
    CHECK_ERRNO (EINVAL, zmq_msg_set (&msg, ZMQ_MORE, 1));
    CHECK_NULL_ERRNO (EINVAL, zmq_msg_gets (&msg, "No-Such-Property"));
    CHECK_NULL_ERRNO (EFAULT, zmq_msg_gets (&msg, NULL));
    CHECK (zmq_msg_close (&msg) == 0);
}

static int freed = 0;
static void count_free (void *data, void *hint)
{
    (void) hint;
    freed++;
    free (data);
}

/* zmq_msg_init_data's free function runs exactly once, after the last copy is gone, and a
   message sent over inproc carries the buffer along. */
static void free_function_once (void *ctx)
{
    void *a = zmq_socket (ctx, ZMQ_PAIR), *b = zmq_socket (ctx, ZMQ_PAIR);
    CHECK (zmq_bind (a, "inproc://free-once") == 0);
    CHECK (zmq_connect (b, "inproc://free-once") == 0);
    for (size_t size = 1; size <= 4096; size *= 4) {
        freed = 0;
        char *data = malloc (size);
        memset (data, 'x', size);
        zmq_msg_t msg, copy;
        CHECK (zmq_msg_init_data (&msg, data, size, count_free, NULL) == 0);
        CHECK (zmq_msg_init (&copy) == 0);
        CHECK (zmq_msg_copy (&copy, &msg) == 0);
        CHECK (zmq_msg_send (&msg, a, 0) == (int) size);
        CHECK (zmq_msg_close (&msg) == 0);
        CHECK (zmq_msg_init (&msg) == 0);
        CHECK (zmq_msg_recv (&msg, b, 0) == (int) size);
        CHECK (zmq_msg_size (&msg) == size);
        CHECK (memcmp (zmq_msg_data (&msg), zmq_msg_data (&copy), size) == 0);
        CHECK (zmq_msg_close (&msg) == 0);
        CHECK (zmq_msg_close (&copy) == 0);
        CHECK (freed == 1);
    }
    zmq_close (a);
    zmq_close (b);
}

static void *blocked_receiver (void *socket)
{
    char buf[8];
    int rc = zmq_recv (socket, buf, sizeof buf, 0);
    int err = errno;
    int *result = malloc (2 * sizeof (int));
    result[0] = rc;
    result[1] = err;
    zmq_close (socket);
    return result;
}

/* A socket blocked in a receive when zmq_ctx_term is called gets ETERM; sockets of a shut
   down context get ETERM; a socket of a terminated context is closed and ENOTSOCK. */
static void after_term (void)
{
    void *ctx = zmq_ctx_new ();
    void *s = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_bind (s, "inproc://after-term") == 0);
    pthread_t thread;
    pthread_create (&thread, NULL, blocked_receiver, s);
    usleep (50 * 1000);
    CHECK (zmq_ctx_term (ctx) == 0);
    void *result;
    pthread_join (thread, &result);
    CHECK (((int *) result)[0] == -1 && ((int *) result)[1] == ETERM);
    free (result);
    CHECK_ERRNO (ENOTSOCK, zmq_send (s, "x", 1, 0));
    CHECK_ERRNO (EFAULT, zmq_ctx_term (ctx));
    CHECK_NULL_ERRNO (EFAULT, zmq_socket (ctx, ZMQ_PUSH));

    ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    CHECK (zmq_ctx_shutdown (ctx) == 0);
    int linger = 0;
    CHECK_ERRNO (ETERM, zmq_send (push, "x", 1, 0));
    CHECK_ERRNO (ETERM, zmq_recv (push, &linger, sizeof linger, 0));
    CHECK_ERRNO (ETERM, zmq_connect (push, "tcp://127.0.0.1:5555"));
    CHECK_ERRNO (ETERM, zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger));
    zmq_pollitem_t item = {push, 0, ZMQ_POLLOUT, 0};
    CHECK_ERRNO (ETERM, zmq_poll (&item, 1, 0));
    CHECK_NULL_ERRNO (ETERM, zmq_socket (ctx, ZMQ_PULL));
    CHECK (zmq_close (push) == 0);
    CHECK (zmq_ctx_term (ctx) == 0);
}

int main (void)
{
    void *ctx = zmq_ctx_new ();
    null_pointers ();
    bad_arguments (ctx);
    messages_after_close ();
    free_function_once (ctx);
    CHECK (zmq_ctx_term (ctx) == 0);
    after_term ();
    CHECK_DONE ();
}
