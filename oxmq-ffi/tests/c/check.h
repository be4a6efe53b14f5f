/* A few assertions for oxmq's C ABI tests: each failed check prints where and why and the
   program exits 1 at the end, so one run reports every failure. */
#ifndef OXMQ_CHECK_H
#define OXMQ_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int check_failures = 0;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf (stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                     #cond);                                                   \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

/* `call` fails (-1, or NULL for pointer calls) with errno `expected`. */
#define CHECK_ERRNO(expected, call)                                            \
    do {                                                                       \
        errno = 0;                                                             \
        long long check_rc_ = (long long) (call);                              \
        int check_errno_ = errno;                                              \
        if (check_rc_ != -1 || check_errno_ != (expected)) {                   \
            fprintf (stderr,                                                   \
                     "%s:%d: %s gave %lld with errno %d (%s), wanted -1 with " \
                     "errno %d (%s)\n",                                        \
                     __FILE__, __LINE__, #call, check_rc_, check_errno_,       \
                     zmq_strerror (check_errno_), (int) (expected),            \
                     zmq_strerror (expected));                                 \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define CHECK_NULL_ERRNO(expected, call)                                       \
    do {                                                                       \
        errno = 0;                                                             \
        const void *check_ptr_ = (const void *) (call);                        \
        int check_errno_ = errno;                                              \
        if (check_ptr_ != NULL || check_errno_ != (expected)) {                \
            fprintf (stderr,                                                   \
                     "%s:%d: %s gave %p with errno %d, wanted NULL with "      \
                     "errno %d\n",                                             \
                     __FILE__, __LINE__, #call, check_ptr_, check_errno_,      \
                     (int) (expected));                                        \
            check_failures++;                                                  \
        }                                                                      \
    } while (0)

#define CHECK_DONE()                                                           \
    do {                                                                       \
        if (check_failures) {                                                  \
            fprintf (stderr, "%d check(s) failed\n", check_failures);          \
            return 1;                                                          \
        }                                                                      \
        printf ("all checks passed\n");                                        \
        return 0;                                                              \
    } while (0)

#endif
