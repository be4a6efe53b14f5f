/*
 * zmq_utils.h -- oxmq's libzmq-compatible legacy utility header.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Obsolete: everything that used to be declared here (zmq_stopwatch_*,
 * zmq_sleep, zmq_threadstart, zmq_threadclose, ...) lives in zmq.h, which
 * this file simply includes.  New code should include <zmq.h> directly.
 *
 * The deprecation notice uses "#pragma message", which GCC and MSVC print as
 * an informational note, so -Werror / -pedantic builds are unaffected.
 * Clang reports that pragma as a warning (fatal under -Werror), so it is
 * skipped there, as it is on compilers that do not know the pragma.
 */

#ifndef __ZMQ_UTILS_H_INCLUDED__
#define __ZMQ_UTILS_H_INCLUDED__

#if (defined(__GNUC__) && !defined(__clang__)) || defined(_MSC_VER)
#pragma message("zmq_utils.h is deprecated; include zmq.h instead")
#endif

#include "zmq.h"

#endif /* __ZMQ_UTILS_H_INCLUDED__ */
