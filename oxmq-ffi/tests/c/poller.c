/* The draft zmq_poller_* API: level-triggered readiness of sockets and raw descriptors,
   wait_all's order and room, timeouts, and a socket closed while in a poller. */
#define ZMQ_BUILD_DRAFT_API
#include <zmq.h>
#include <unistd.h>

#include "check.h"

static void level_triggered (void *ctx)
{
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    void *idle = zmq_socket (ctx, ZMQ_PULL);
    CHECK (zmq_bind (pull, "inproc://poller-level") == 0);
    CHECK (zmq_bind (idle, "inproc://poller-idle") == 0);
    CHECK (zmq_connect (push, "inproc://poller-level") == 0);

    void *poller = zmq_poller_new ();
    CHECK (poller != NULL);
    int tag_idle = 1, tag_pull = 2;
    CHECK (zmq_poller_add (poller, idle, &tag_idle, ZMQ_POLLIN) == 0);
    CHECK (zmq_poller_add (poller, pull, &tag_pull, ZMQ_POLLIN) == 0);
    CHECK (zmq_poller_size (poller) == 2);

    zmq_poller_event_t events[4];
    CHECK_ERRNO (EAGAIN, zmq_poller_wait_all (poller, events, 4, 0));
    CHECK_ERRNO (EAGAIN, zmq_poller_wait_all (poller, events, 4, 20));

    CHECK (zmq_send (push, "a", 1, 0) == 1);
    CHECK (zmq_send (push, "b", 1, 0) == 1);
    /* Readable on every wait until the messages are read. */
    for (int i = 0; i < 3; i++) {
        CHECK (zmq_poller_wait_all (poller, events, 4, 1000) == 1);
        CHECK (events[0].socket == pull);
        CHECK (events[0].user_data == &tag_pull);
        CHECK (events[0].fd == -1);
        CHECK (events[0].events == ZMQ_POLLIN);
    }
    char buf[4];
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 1);
    CHECK (zmq_poller_wait (poller, events, 0) == 0);
    CHECK (events[0].socket == pull);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 1);
    CHECK_ERRNO (EAGAIN, zmq_poller_wait (poller, events, 0));

    /* Interest 0 mutes a socket; POLLOUT of a PUSH with a peer is ready at once. */
    CHECK (zmq_send (push, "c", 1, 0) == 1);
    CHECK (zmq_poller_modify (poller, pull, 0) == 0);
    CHECK_ERRNO (EAGAIN, zmq_poller_wait (poller, events, 10));
    CHECK (zmq_poller_modify (poller, pull, ZMQ_POLLIN) == 0);
    CHECK (zmq_poller_add (poller, push, NULL, ZMQ_POLLOUT) == 0);
    /* Both ready, reported in the order they were added; room for one gives one. */
    CHECK (zmq_poller_wait_all (poller, events, 4, 1000) == 2);
    CHECK (events[0].socket == pull && events[0].events == ZMQ_POLLIN);
    CHECK (events[1].socket == push && events[1].events == ZMQ_POLLOUT);
    CHECK (zmq_poller_wait_all (poller, events, 1, 1000) == 1);
    CHECK (events[0].socket == pull);
    CHECK (zmq_recv (pull, buf, sizeof buf, 0) == 1);

    /* A socket closed while in the poller: the next wait says so instead of crashing. */
    CHECK (zmq_close (idle) == 0);
    CHECK_ERRNO (ENOTSOCK, zmq_poller_wait_all (poller, events, 4, 0));
    CHECK_ERRNO (ENOTSOCK, zmq_poller_remove (poller, idle));

    CHECK (zmq_poller_destroy (&poller) == 0);
    CHECK (poller == NULL);
    CHECK_ERRNO (EFAULT, zmq_poller_destroy (&poller));
    zmq_close (push);
    zmq_close (pull);
}

static void raw_descriptors (void)
{
    int fds[2];
    CHECK (pipe (fds) == 0);
    void *poller = zmq_poller_new ();
    int tag = 7;
    CHECK (zmq_poller_add_fd (poller, fds[0], &tag, ZMQ_POLLIN) == 0);
    CHECK_ERRNO (EINVAL, zmq_poller_add_fd (poller, fds[0], NULL, ZMQ_POLLIN));
    zmq_poller_event_t event;
    CHECK_ERRNO (EAGAIN, zmq_poller_wait (poller, &event, 10));
    CHECK (write (fds[1], "x", 1) == 1);
    CHECK (zmq_poller_wait (poller, &event, 1000) == 0);
    CHECK (event.socket == NULL);
    CHECK (event.fd == fds[0]);
    CHECK (event.user_data == &tag);
    CHECK (event.events == ZMQ_POLLIN);
    /* Still readable until read. */
    CHECK (zmq_poller_wait (poller, &event, 0) == 0);
    char c;
    CHECK (read (fds[0], &c, 1) == 1);
    CHECK_ERRNO (EAGAIN, zmq_poller_wait (poller, &event, 0));
    /* The writing end closed: a hang-up. */
    CHECK (close (fds[1]) == 0);
    CHECK (zmq_poller_modify_fd (poller, fds[0], ZMQ_POLLIN | ZMQ_POLLERR) == 0);
    CHECK (zmq_poller_wait (poller, &event, 1000) == 0);
    CHECK (event.events & ZMQ_POLLERR);
    CHECK (zmq_poller_remove_fd (poller, fds[0]) == 0);
    CHECK_ERRNO (EINVAL, zmq_poller_remove_fd (poller, fds[0]));
    CHECK (zmq_poller_size (poller) == 0);
    /* Nothing to wait for: EAGAIN after the timeout, EFAULT for an endless wait. */
    CHECK_ERRNO (EAGAIN, zmq_poller_wait (poller, &event, 0));
    CHECK_ERRNO (EFAULT, zmq_poller_wait (poller, &event, -1));
    int fd;
    CHECK_ERRNO (EINVAL, zmq_poller_fd (poller, &fd));
    CHECK (close (fds[0]) == 0);
    CHECK (zmq_poller_destroy (&poller) == 0);
}

int main (void)
{
    void *ctx = zmq_ctx_new ();
    level_triggered (ctx);
    raw_descriptors ();
    CHECK (zmq_ctx_term (ctx) == 0);
    CHECK_DONE ();
}
