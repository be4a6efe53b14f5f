/*
 * zmq.h -- public C API of oxmq's libzmq-compatible library (libzmq.so.5).
 *
 * oxmq is an independent Rust implementation of ZeroMQ.  This header was
 * written for oxmq; it declares the same names, signatures, constant values
 * and type layouts as the libzmq 4.3.5 C API, so that existing C/C++ code and
 * language bindings can be compiled against it and linked to oxmq-ffi.
 *
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Compatibility rule: every number below is part of the binary interface.
 * Never change a value, and never recycle a retired one.
 */

#ifndef __ZMQ_H_INCLUDED__
#define __ZMQ_H_INCLUDED__

/* ------------------------------------------------------------------------ */
/* Version of the API described by this header                              */
/* ------------------------------------------------------------------------ */

#define ZMQ_VERSION_MAJOR 4
#define ZMQ_VERSION_MINOR 3
#define ZMQ_VERSION_PATCH 5

#define ZMQ_MAKE_VERSION(major, minor, patch)                                 \
    ((major) *10000 + (minor) *100 + (patch))

#define ZMQ_VERSION                                                           \
    ZMQ_MAKE_VERSION (ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH)

/* ------------------------------------------------------------------------ */
/* System headers                                                           */
/* ------------------------------------------------------------------------ */

#if !defined _WIN32_WCE
#include <errno.h>
#endif
#include <stddef.h>
#include <stdio.h>

/* Fixed-width integers.  ZMQ_DEFINED_STDINT tells includers that this
   header has taken care of making them available. */
#define ZMQ_DEFINED_STDINT 1
#if defined ZMQ_HAVE_SOLARIS || defined ZMQ_HAVE_OPENVMS
#include <inttypes.h>
#elif defined _MSC_VER && _MSC_VER < 1600
/* Visual Studio before 2010 ships without <stdint.h>. */
#ifndef uint64_t
typedef unsigned __int64 uint64_t;
#endif
#ifndef int32_t
typedef __int32 int32_t;
#endif
#ifndef uint32_t
typedef unsigned __int32 uint32_t;
#endif
#ifndef uint16_t
typedef unsigned __int16 uint16_t;
#endif
#ifndef uint8_t
typedef unsigned __int8 uint8_t;
#endif
#else
#include <stdint.h>
#endif

/* sigset_t, used by the draft zmq_ppoll() prototype. */
#if !defined _WIN32
#include <signal.h>
#endif

/* On 32-bit AIX <poll.h> renames the pollfd members through macros; pull it
   in first so that it cannot rewrite our own "events"/"revents" fields. */
#ifdef ZMQ_HAVE_AIX
#include <poll.h>
#endif

/* ------------------------------------------------------------------------ */
/* Symbol export / import decoration                                        */
/* ------------------------------------------------------------------------ */

#if defined ZMQ_NO_EXPORT
#define ZMQ_EXPORT
#elif defined _WIN32
#if defined ZMQ_STATIC
#define ZMQ_EXPORT
#elif defined DLL_EXPORT
#define ZMQ_EXPORT __declspec(dllexport)
#else
#define ZMQ_EXPORT __declspec(dllimport)
#endif
#elif defined __SUNPRO_C || defined __SUNPRO_CC
#define ZMQ_EXPORT __global
#elif (defined __GNUC__ && __GNUC__ >= 4) || defined __INTEL_COMPILER
#define ZMQ_EXPORT __attribute__ ((visibility ("default")))
#else
#define ZMQ_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Error reporting                                                          */
/* ======================================================================== */

/* Base of the error numbers invented by the library.  It is far above any
   errno range used by real operating systems (errno is assumed to be at
   least 32 bits wide). */
#define ZMQ_HAUSNUMERO 156384712

/* POSIX error numbers that some platforms (notably Windows) lack.  Where the
   system already defines them, the system value is used. */
#ifndef ENOTSUP
#define ENOTSUP (ZMQ_HAUSNUMERO + 1)
#endif
#ifndef EPROTONOSUPPORT
#define EPROTONOSUPPORT (ZMQ_HAUSNUMERO + 2)
#endif
#ifndef ENOBUFS
#define ENOBUFS (ZMQ_HAUSNUMERO + 3)
#endif
#ifndef ENETDOWN
#define ENETDOWN (ZMQ_HAUSNUMERO + 4)
#endif
#ifndef EADDRINUSE
#define EADDRINUSE (ZMQ_HAUSNUMERO + 5)
#endif
#ifndef EADDRNOTAVAIL
#define EADDRNOTAVAIL (ZMQ_HAUSNUMERO + 6)
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED (ZMQ_HAUSNUMERO + 7)
#endif
#ifndef EINPROGRESS
#define EINPROGRESS (ZMQ_HAUSNUMERO + 8)
#endif
#ifndef ENOTSOCK
#define ENOTSOCK (ZMQ_HAUSNUMERO + 9)
#endif
#ifndef EMSGSIZE
#define EMSGSIZE (ZMQ_HAUSNUMERO + 10)
#endif
#ifndef EAFNOSUPPORT
#define EAFNOSUPPORT (ZMQ_HAUSNUMERO + 11)
#endif
#ifndef ENETUNREACH
#define ENETUNREACH (ZMQ_HAUSNUMERO + 12)
#endif
#ifndef ECONNABORTED
#define ECONNABORTED (ZMQ_HAUSNUMERO + 13)
#endif
#ifndef ECONNRESET
#define ECONNRESET (ZMQ_HAUSNUMERO + 14)
#endif
#ifndef ENOTCONN
#define ENOTCONN (ZMQ_HAUSNUMERO + 15)
#endif
#ifndef ETIMEDOUT
#define ETIMEDOUT (ZMQ_HAUSNUMERO + 16)
#endif
#ifndef EHOSTUNREACH
#define EHOSTUNREACH (ZMQ_HAUSNUMERO + 17)
#endif
#ifndef ENETRESET
#define ENETRESET (ZMQ_HAUSNUMERO + 18)
#endif

/* Error numbers specific to ZeroMQ (always defined). */
#define EFSM (ZMQ_HAUSNUMERO + 51)           /* operation invalid in state */
#define ENOCOMPATPROTO (ZMQ_HAUSNUMERO + 52) /* transport/socket mismatch  */
#define ETERM (ZMQ_HAUSNUMERO + 53)          /* context was terminated     */
#define EMTHREAD (ZMQ_HAUSNUMERO + 54)       /* no I/O thread available    */

/* The calling thread's last error, as seen by the library.  Use this rather
   than errno when the application and library may use different C runtimes. */
ZMQ_EXPORT int zmq_errno (void);

/* Human-readable text for a system or ZeroMQ error number. */
ZMQ_EXPORT const char *zmq_strerror (int errnum);

/* Version of the library actually loaded at run time. */
ZMQ_EXPORT void zmq_version (int *major, int *minor, int *patch);

/* ======================================================================== */
/* Contexts                                                                 */
/* ======================================================================== */

/* Options for zmq_ctx_set() / zmq_ctx_get(). */
#define ZMQ_IO_THREADS 1
#define ZMQ_MAX_SOCKETS 2
#define ZMQ_SOCKET_LIMIT 3
#define ZMQ_THREAD_PRIORITY 3 /* same number as ZMQ_SOCKET_LIMIT; set-only */
#define ZMQ_THREAD_SCHED_POLICY 4
#define ZMQ_MAX_MSGSZ 5
#define ZMQ_MSG_T_SIZE 6
#define ZMQ_THREAD_AFFINITY_CPU_ADD 7
#define ZMQ_THREAD_AFFINITY_CPU_REMOVE 8
#define ZMQ_THREAD_NAME_PREFIX 9

/* Values a fresh context starts with. */
#define ZMQ_IO_THREADS_DFLT 1
#define ZMQ_MAX_SOCKETS_DFLT 1023
#define ZMQ_THREAD_PRIORITY_DFLT -1
#define ZMQ_THREAD_SCHED_POLICY_DFLT -1

ZMQ_EXPORT void *zmq_ctx_new (void);
ZMQ_EXPORT int zmq_ctx_term (void *context);
ZMQ_EXPORT int zmq_ctx_shutdown (void *context);
ZMQ_EXPORT int zmq_ctx_set (void *context, int option, int optval);
ZMQ_EXPORT int zmq_ctx_get (void *context, int option);

/* Older spellings of the context calls, kept for existing programs. */
ZMQ_EXPORT void *zmq_init (int io_threads);
ZMQ_EXPORT int zmq_term (void *context);
ZMQ_EXPORT int zmq_ctx_destroy (void *context);

/* ======================================================================== */
/* Messages                                                                 */
/* ======================================================================== */

/* An opaque 64-byte message object, owned by the caller (usually on the
   stack).  It must be pointer-aligned: strict-alignment CPUs such as sparc64
   and some aarch64 configurations fault otherwise. */
typedef struct zmq_msg_t
{
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
    __declspec(align (8)) unsigned char _[64];
#elif defined(_MSC_VER)                                                       \
  && (defined(_M_IX86) || defined(_M_ARM_ARMV7VE) || defined(_M_ARM))
    __declspec(align (4)) unsigned char _[64];
#elif defined(__GNUC__) || defined(__INTEL_COMPILER)                          \
  || (defined(__SUNPRO_C) && __SUNPRO_C >= 0x590)                             \
  || (defined(__SUNPRO_CC) && __SUNPRO_CC >= 0x590)
    unsigned char _[64] __attribute__ ((aligned (sizeof (void *))));
#else
    unsigned char _[64];
#endif
} zmq_msg_t;

/* Deallocation callback for zmq_msg_init_data(): receives the data pointer
   and the caller-supplied hint once the library no longer needs the data. */
typedef void(zmq_free_fn) (void *data, void *hint);

ZMQ_EXPORT int zmq_msg_init (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_init_size (zmq_msg_t *msg, size_t size);
ZMQ_EXPORT int zmq_msg_init_data (
  zmq_msg_t *msg, void *data, size_t size, zmq_free_fn *ffn, void *hint);
ZMQ_EXPORT int zmq_msg_send (zmq_msg_t *msg, void *sock, int flags);
ZMQ_EXPORT int zmq_msg_recv (zmq_msg_t *msg, void *sock, int flags);
ZMQ_EXPORT int zmq_msg_close (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_move (zmq_msg_t *dest, zmq_msg_t *src);
ZMQ_EXPORT int zmq_msg_copy (zmq_msg_t *dest, zmq_msg_t *src);
ZMQ_EXPORT void *zmq_msg_data (zmq_msg_t *msg);
ZMQ_EXPORT size_t zmq_msg_size (const zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_more (const zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_get (const zmq_msg_t *msg, int property);
ZMQ_EXPORT int zmq_msg_set (zmq_msg_t *msg, int property, int optval);
ZMQ_EXPORT const char *zmq_msg_gets (const zmq_msg_t *msg,
                                     const char *property);

/* ======================================================================== */
/* Sockets                                                                  */
/* ======================================================================== */

/* Socket types (second argument of zmq_socket). */
#define ZMQ_PAIR 0
#define ZMQ_PUB 1
#define ZMQ_SUB 2
#define ZMQ_REQ 3
#define ZMQ_REP 4
#define ZMQ_DEALER 5
#define ZMQ_ROUTER 6
#define ZMQ_PULL 7
#define ZMQ_PUSH 8
#define ZMQ_XPUB 9
#define ZMQ_XSUB 10
#define ZMQ_STREAM 11

/* Historical names of DEALER and ROUTER. */
#define ZMQ_XREQ ZMQ_DEALER
#define ZMQ_XREP ZMQ_ROUTER

/* Socket option numbers for zmq_setsockopt() / zmq_getsockopt().  Holes in
   the numbering are options retired in earlier releases; they stay unused. */
#define ZMQ_AFFINITY 4
#define ZMQ_ROUTING_ID 5
#define ZMQ_SUBSCRIBE 6
#define ZMQ_UNSUBSCRIBE 7
#define ZMQ_RATE 8
#define ZMQ_RECOVERY_IVL 9
#define ZMQ_SNDBUF 11
#define ZMQ_RCVBUF 12
#define ZMQ_RCVMORE 13
#define ZMQ_FD 14
#define ZMQ_EVENTS 15
#define ZMQ_TYPE 16
#define ZMQ_LINGER 17
#define ZMQ_RECONNECT_IVL 18
#define ZMQ_BACKLOG 19
#define ZMQ_RECONNECT_IVL_MAX 21
#define ZMQ_MAXMSGSIZE 22
#define ZMQ_SNDHWM 23
#define ZMQ_RCVHWM 24
#define ZMQ_MULTICAST_HOPS 25
#define ZMQ_RCVTIMEO 27
#define ZMQ_SNDTIMEO 28
#define ZMQ_LAST_ENDPOINT 32
#define ZMQ_ROUTER_MANDATORY 33
#define ZMQ_TCP_KEEPALIVE 34
#define ZMQ_TCP_KEEPALIVE_CNT 35
#define ZMQ_TCP_KEEPALIVE_IDLE 36
#define ZMQ_TCP_KEEPALIVE_INTVL 37
#define ZMQ_IMMEDIATE 39
#define ZMQ_XPUB_VERBOSE 40
#define ZMQ_ROUTER_RAW 41
#define ZMQ_IPV6 42
#define ZMQ_MECHANISM 43
#define ZMQ_PLAIN_SERVER 44
#define ZMQ_PLAIN_USERNAME 45
#define ZMQ_PLAIN_PASSWORD 46
#define ZMQ_CURVE_SERVER 47
#define ZMQ_CURVE_PUBLICKEY 48
#define ZMQ_CURVE_SECRETKEY 49
#define ZMQ_CURVE_SERVERKEY 50
#define ZMQ_PROBE_ROUTER 51
#define ZMQ_REQ_CORRELATE 52
#define ZMQ_REQ_RELAXED 53
#define ZMQ_CONFLATE 54
#define ZMQ_ZAP_DOMAIN 55
#define ZMQ_ROUTER_HANDOVER 56
#define ZMQ_TOS 57
#define ZMQ_CONNECT_ROUTING_ID 61
#define ZMQ_GSSAPI_SERVER 62
#define ZMQ_GSSAPI_PRINCIPAL 63
#define ZMQ_GSSAPI_SERVICE_PRINCIPAL 64
#define ZMQ_GSSAPI_PLAINTEXT 65
#define ZMQ_HANDSHAKE_IVL 66
#define ZMQ_SOCKS_PROXY 68
#define ZMQ_XPUB_NODROP 69
#define ZMQ_BLOCKY 70
#define ZMQ_XPUB_MANUAL 71
#define ZMQ_XPUB_WELCOME_MSG 72
#define ZMQ_STREAM_NOTIFY 73
#define ZMQ_INVERT_MATCHING 74
#define ZMQ_HEARTBEAT_IVL 75
#define ZMQ_HEARTBEAT_TTL 76
#define ZMQ_HEARTBEAT_TIMEOUT 77
#define ZMQ_XPUB_VERBOSER 78
#define ZMQ_CONNECT_TIMEOUT 79
#define ZMQ_TCP_MAXRT 80
#define ZMQ_THREAD_SAFE 81
#define ZMQ_MULTICAST_MAXTPDU 84
#define ZMQ_VMCI_BUFFER_SIZE 85
#define ZMQ_VMCI_BUFFER_MIN_SIZE 86
#define ZMQ_VMCI_BUFFER_MAX_SIZE 87
#define ZMQ_VMCI_CONNECT_TIMEOUT 88
#define ZMQ_USE_FD 89
#define ZMQ_GSSAPI_PRINCIPAL_NAMETYPE 90
#define ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE 91
#define ZMQ_BINDTODEVICE 92

/* Message properties for zmq_msg_get() / zmq_msg_set(). */
#define ZMQ_MORE 1
#define ZMQ_SHARED 3

/* Flags for the send and receive calls. */
#define ZMQ_DONTWAIT 1
#define ZMQ_SNDMORE 2

/* Values reported by the ZMQ_MECHANISM option. */
#define ZMQ_NULL 0
#define ZMQ_PLAIN 1
#define ZMQ_CURVE 2
#define ZMQ_GSSAPI 3

/* Longest group name accepted by RADIO/DISH sockets. */
#define ZMQ_GROUP_MAX_LENGTH 255

/* Retired option names and numbers, still accepted. */
#define ZMQ_IDENTITY ZMQ_ROUTING_ID
#define ZMQ_CONNECT_RID ZMQ_CONNECT_ROUTING_ID
#define ZMQ_TCP_ACCEPT_FILTER 38
#define ZMQ_IPC_FILTER_PID 58
#define ZMQ_IPC_FILTER_UID 59
#define ZMQ_IPC_FILTER_GID 60
#define ZMQ_IPV4ONLY 31
#define ZMQ_DELAY_ATTACH_ON_CONNECT ZMQ_IMMEDIATE
#define ZMQ_NOBLOCK ZMQ_DONTWAIT
#define ZMQ_FAIL_UNROUTABLE ZMQ_ROUTER_MANDATORY
#define ZMQ_ROUTER_BEHAVIOR ZMQ_ROUTER_MANDATORY

/* Retired message property: file descriptor the message arrived on. */
#define ZMQ_SRCFD 2

/* Name types for ZMQ_GSSAPI_PRINCIPAL_NAMETYPE and
   ZMQ_GSSAPI_SERVICE_PRINCIPAL_NAMETYPE. */
#define ZMQ_GSSAPI_NT_HOSTBASED 0
#define ZMQ_GSSAPI_NT_USER_NAME 1
#define ZMQ_GSSAPI_NT_KRB5_PRINCIPAL 2

/* ------------------------------------------------------------------------ */
/* Monitoring: event bits for zmq_socket_monitor()                           */
/* ------------------------------------------------------------------------ */

#define ZMQ_EVENT_CONNECTED 0x0001
#define ZMQ_EVENT_CONNECT_DELAYED 0x0002
#define ZMQ_EVENT_CONNECT_RETRIED 0x0004
#define ZMQ_EVENT_LISTENING 0x0008
#define ZMQ_EVENT_BIND_FAILED 0x0010
#define ZMQ_EVENT_ACCEPTED 0x0020
#define ZMQ_EVENT_ACCEPT_FAILED 0x0040
#define ZMQ_EVENT_CLOSED 0x0080
#define ZMQ_EVENT_CLOSE_FAILED 0x0100
#define ZMQ_EVENT_DISCONNECTED 0x0200
#define ZMQ_EVENT_MONITOR_STOPPED 0x0400
#define ZMQ_EVENT_ALL 0xFFFF
/* Handshake failed for an unspecified reason; event value = errno. */
#define ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL 0x0800
/* Handshake (and authentication, if any) completed; value unused. */
#define ZMQ_EVENT_HANDSHAKE_SUCCEEDED 0x1000
/* ZMTP or ZAP protocol violation; value = a ZMQ_PROTOCOL_ERROR_* code. */
#define ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL 0x2000
/* Authentication refused; value = ZAP status code (300, 400 or 500). */
#define ZMQ_EVENT_HANDSHAKE_FAILED_AUTH 0x4000

/* Values carried by ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL. */
#define ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED 0x10000000
#define ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND 0x10000001
#define ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE 0x10000002
#define ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE 0x10000003
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED 0x10000011
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE 0x10000012
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO 0x10000013
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE 0x10000014
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR 0x10000015
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY 0x10000016
#define ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME 0x10000017
#define ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA 0x10000018
/* These two usually point at a misconfigured peer. */
#define ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC 0x11000001
#define ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH 0x11000002
#define ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED 0x20000000
#define ZMQ_PROTOCOL_ERROR_ZAP_MALFORMED_REPLY 0x20000001
#define ZMQ_PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID 0x20000002
#define ZMQ_PROTOCOL_ERROR_ZAP_BAD_VERSION 0x20000003
#define ZMQ_PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE 0x20000004
#define ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA 0x20000005
#define ZMQ_PROTOCOL_ERROR_WS_UNSPECIFIED 0x30000000

/* ------------------------------------------------------------------------ */
/* Socket calls                                                             */
/* ------------------------------------------------------------------------ */

ZMQ_EXPORT void *zmq_socket (void *context, int type);
ZMQ_EXPORT int zmq_close (void *sock);
ZMQ_EXPORT int zmq_setsockopt (void *sock,
                               int option,
                               const void *optval,
                               size_t optvallen);
ZMQ_EXPORT int
zmq_getsockopt (void *sock, int option, void *optval, size_t *optvallen);
ZMQ_EXPORT int zmq_bind (void *sock, const char *endpoint);
ZMQ_EXPORT int zmq_connect (void *sock, const char *endpoint);
ZMQ_EXPORT int zmq_unbind (void *sock, const char *endpoint);
ZMQ_EXPORT int zmq_disconnect (void *sock, const char *endpoint);
ZMQ_EXPORT int zmq_send (void *sock, const void *buf, size_t len, int flags);
ZMQ_EXPORT int
zmq_send_const (void *sock, const void *buf, size_t len, int flags);
ZMQ_EXPORT int zmq_recv (void *sock, void *buf, size_t len, int flags);
ZMQ_EXPORT int
zmq_socket_monitor (void *sock, const char *endpoint, int events);

/* ======================================================================== */
/* Polling                                                                  */
/* ======================================================================== */

/* Native socket handle: SOCKET (a pointer-sized unsigned integer) on
   Windows, a file descriptor elsewhere. */
#if defined _WIN32
#if defined _WIN64
typedef unsigned __int64 zmq_fd_t;
#else
typedef unsigned int zmq_fd_t;
#endif
#else
typedef int zmq_fd_t;
#endif

/* Readiness bits used in zmq_pollitem_t and in the ZMQ_EVENTS option. */
#define ZMQ_POLLIN 1
#define ZMQ_POLLOUT 2
#define ZMQ_POLLERR 4
#define ZMQ_POLLPRI 8

/* One entry of a zmq_poll() set: either a ZeroMQ socket ("socket" non-NULL)
   or, when "socket" is NULL, a native descriptor "fd". */
typedef struct zmq_pollitem_t
{
    void *socket;
    zmq_fd_t fd;
    short events;
    short revents;
} zmq_pollitem_t;

#define ZMQ_POLLITEMS_DFLT 16

ZMQ_EXPORT int zmq_poll (zmq_pollitem_t *items, int nitems, long timeout);

/* ======================================================================== */
/* Built-in proxy                                                           */
/* ======================================================================== */

ZMQ_EXPORT int zmq_proxy (void *frontend, void *backend, void *capture);
ZMQ_EXPORT int zmq_proxy_steerable (void *frontend,
                                    void *backend,
                                    void *capture,
                                    void *control);

/* ======================================================================== */
/* Run-time capability query                                                */
/* ======================================================================== */

/* Present when zmq_has() exists.  Ask e.g. zmq_has ("curve") at run time. */
#define ZMQ_HAS_CAPABILITIES 1
ZMQ_EXPORT int zmq_has (const char *capability);

/* ======================================================================== */
/* Deprecated calls                                                         */
/* ======================================================================== */

/* Device kinds for zmq_device(); all of them behave like zmq_proxy(). */
#define ZMQ_STREAMER 1
#define ZMQ_FORWARDER 2
#define ZMQ_QUEUE 3

ZMQ_EXPORT int zmq_device (int type, void *frontend, void *backend);
ZMQ_EXPORT int zmq_sendmsg (void *sock, zmq_msg_t *msg, int flags);
ZMQ_EXPORT int zmq_recvmsg (void *sock, zmq_msg_t *msg, int flags);

struct iovec;
ZMQ_EXPORT int
zmq_sendiov (void *sock, struct iovec *iov, size_t count, int flags);
ZMQ_EXPORT int
zmq_recviov (void *sock, struct iovec *iov, size_t *count, int flags);

/* ======================================================================== */
/* Z85 text encoding and CURVE keys                                         */
/* ======================================================================== */

/* Encode "size" bytes (a multiple of 4) from "data" into "dest", which must
   hold size * 5 / 4 + 1 characters.  Returns dest, or NULL on bad input. */
ZMQ_EXPORT char *
zmq_z85_encode (char *dest, const uint8_t *data, size_t size);

/* Decode the NUL-terminated Z85 text "string" (length a multiple of 5) into
   "dest", which must hold strlen (string) * 4 / 5 bytes.  Returns dest, or
   NULL on bad input. */
ZMQ_EXPORT uint8_t *zmq_z85_decode (uint8_t *dest, const char *string);

/* Create a new CURVE key pair; each buffer receives 40 Z85 characters plus
   a terminating NUL.  Returns 0 on success, -1 (errno ENOTSUP) if CURVE is
   not available. */
ZMQ_EXPORT int zmq_curve_keypair (char *z85_public_key, char *z85_secret_key);

/* Compute the Z85 public key belonging to a Z85 secret key.  Returns 0 on
   success. */
ZMQ_EXPORT int zmq_curve_public (char *z85_public_key,
                                 const char *z85_secret_key);

/* ======================================================================== */
/* Atomic counters                                                          */
/* ======================================================================== */

ZMQ_EXPORT void *zmq_atomic_counter_new (void);
ZMQ_EXPORT void zmq_atomic_counter_set (void *counter, int value);
ZMQ_EXPORT int zmq_atomic_counter_inc (void *counter);
ZMQ_EXPORT int zmq_atomic_counter_dec (void *counter);
ZMQ_EXPORT int zmq_atomic_counter_value (void *counter);
ZMQ_EXPORT void zmq_atomic_counter_destroy (void **counter_p);

/* ======================================================================== */
/* Timers                                                                   */
/* ======================================================================== */

/* Present when the zmq_timers_* calls exist. */
#define ZMQ_HAVE_TIMERS

/* Callback run by zmq_timers_execute() for each expired timer. */
typedef void(zmq_timer_fn) (int timer_id, void *arg);

ZMQ_EXPORT void *zmq_timers_new (void);
ZMQ_EXPORT int zmq_timers_destroy (void **timers_p);
ZMQ_EXPORT int zmq_timers_add (void *timers,
                               size_t interval,
                               zmq_timer_fn *handler,
                               void *arg);
ZMQ_EXPORT int zmq_timers_cancel (void *timers, int timer_id);
ZMQ_EXPORT int
zmq_timers_set_interval (void *timers, int timer_id, size_t interval);
ZMQ_EXPORT int zmq_timers_reset (void *timers, int timer_id);
ZMQ_EXPORT long zmq_timers_timeout (void *timers);
ZMQ_EXPORT int zmq_timers_execute (void *timers);

/* ======================================================================== */
/* Undocumented helpers (used by perf tools and tests)                      */
/* ======================================================================== */

/* Start a stopwatch and return a handle to it. */
ZMQ_EXPORT void *zmq_stopwatch_start (void);

/* Microseconds since zmq_stopwatch_start(); the watch keeps running. */
ZMQ_EXPORT unsigned long zmq_stopwatch_intermediate (void *watch);

/* Microseconds since zmq_stopwatch_start(); the watch is freed. */
ZMQ_EXPORT unsigned long zmq_stopwatch_stop (void *watch);

/* Sleep for a whole number of seconds. */
ZMQ_EXPORT void zmq_sleep (int seconds);

/* Thread entry point for zmq_threadstart(). */
typedef void(zmq_thread_fn) (void *);

/* Run func (arg) on a new thread; returns a handle for zmq_threadclose(). */
ZMQ_EXPORT void *zmq_threadstart (zmq_thread_fn *func, void *arg);

/* Join the thread and release its handle. */
ZMQ_EXPORT void zmq_threadclose (void *thread);

/* ======================================================================== */
/* DRAFT API                                                                */
/*                                                                          */
/* Only visible when ZMQ_BUILD_DRAFT_API is defined.  Unstable: may change  */
/* or vanish in any release, and the library may not export every symbol.   */
/* ======================================================================== */

#ifdef ZMQ_BUILD_DRAFT_API

/* Draft socket types. */
#define ZMQ_SERVER 12
#define ZMQ_CLIENT 13
#define ZMQ_RADIO 14
#define ZMQ_DISH 15
#define ZMQ_GATHER 16
#define ZMQ_SCATTER 17
#define ZMQ_DGRAM 18
#define ZMQ_PEER 19
#define ZMQ_CHANNEL 20

/* Draft socket options. */
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#define ZMQ_LOOPBACK_FASTPATH 94
#define ZMQ_METADATA 95
#define ZMQ_MULTICAST_LOOP 96
#define ZMQ_ROUTER_NOTIFY 97
#define ZMQ_XPUB_MANUAL_LAST_VALUE 98
#define ZMQ_SOCKS_USERNAME 99
#define ZMQ_SOCKS_PASSWORD 100
#define ZMQ_IN_BATCH_SIZE 101
#define ZMQ_OUT_BATCH_SIZE 102
#define ZMQ_WSS_KEY_PEM 103
#define ZMQ_WSS_CERT_PEM 104
#define ZMQ_WSS_TRUST_PEM 105
#define ZMQ_WSS_HOSTNAME 106
#define ZMQ_WSS_TRUST_SYSTEM 107
#define ZMQ_ONLY_FIRST_SUBSCRIBE 108
#define ZMQ_RECONNECT_STOP 109
#define ZMQ_HELLO_MSG 110
#define ZMQ_DISCONNECT_MSG 111
#define ZMQ_PRIORITY 112
#define ZMQ_BUSY_POLL 113
#define ZMQ_HICCUP_MSG 114
#define ZMQ_XSUB_VERBOSE_UNSUBSCRIBE 115
#define ZMQ_TOPICS_COUNT 116
#define ZMQ_NORM_MODE 117
#define ZMQ_NORM_UNICAST_NACK 118
#define ZMQ_NORM_BUFFER_SIZE 119
#define ZMQ_NORM_SEGMENT_SIZE 120
#define ZMQ_NORM_BLOCK_SIZE 121
#define ZMQ_NORM_NUM_PARITY 122
#define ZMQ_NORM_NUM_AUTOPARITY 123
#define ZMQ_NORM_PUSH 124

/* Values for ZMQ_NORM_MODE. */
#define ZMQ_NORM_FIXED 0
#define ZMQ_NORM_CC 1
#define ZMQ_NORM_CCL 2
#define ZMQ_NORM_CCE 3
#define ZMQ_NORM_CCE_ECNONLY 4

/* Bits for ZMQ_RECONNECT_STOP. */
#define ZMQ_RECONNECT_STOP_CONN_REFUSED 0x1
#define ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED 0x2
#define ZMQ_RECONNECT_STOP_AFTER_DISCONNECT 0x4

/* Draft context option. */
#define ZMQ_ZERO_COPY_RECV 10

/* Context options with non-integer values. */
ZMQ_EXPORT int zmq_ctx_set_ext (void *context,
                                int option,
                                const void *optval,
                                size_t optvallen);
ZMQ_EXPORT int zmq_ctx_get_ext (void *context,
                                int option,
                                void *optval,
                                size_t *optvallen);

/* Group membership (DISH) and peer connection (PEER). */
ZMQ_EXPORT int zmq_join (void *sock, const char *group);
ZMQ_EXPORT int zmq_leave (void *sock, const char *group);
ZMQ_EXPORT uint32_t zmq_connect_peer (void *sock, const char *endpoint);

/* Routing id and group attached to a message (SERVER/CLIENT, RADIO/DISH). */
ZMQ_EXPORT int zmq_msg_set_routing_id (zmq_msg_t *msg, uint32_t routing_id);
ZMQ_EXPORT uint32_t zmq_msg_routing_id (zmq_msg_t *msg);
ZMQ_EXPORT int zmq_msg_set_group (zmq_msg_t *msg, const char *group);
ZMQ_EXPORT const char *zmq_msg_group (zmq_msg_t *msg);
ZMQ_EXPORT int
zmq_msg_init_buffer (zmq_msg_t *msg, const void *buf, size_t size);

/* Property names understood by zmq_msg_gets(). */
#define ZMQ_MSG_PROPERTY_ROUTING_ID "Routing-Id"
#define ZMQ_MSG_PROPERTY_SOCKET_TYPE "Socket-Type"
#define ZMQ_MSG_PROPERTY_USER_ID "User-Id"
#define ZMQ_MSG_PROPERTY_PEER_ADDRESS "Peer-Address"

/* Bits for ZMQ_ROUTER_NOTIFY. */
#define ZMQ_NOTIFY_CONNECT 1
#define ZMQ_NOTIFY_DISCONNECT 2

/* Poller: waits on sockets (including thread-safe ones) and native fds. */
#define ZMQ_HAVE_POLLER

typedef struct zmq_poller_event_t
{
    void *socket;
    zmq_fd_t fd;
    void *user_data;
    short events;
} zmq_poller_event_t;

ZMQ_EXPORT void *zmq_poller_new (void);
ZMQ_EXPORT int zmq_poller_destroy (void **poller_p);
ZMQ_EXPORT int zmq_poller_size (void *poller);
ZMQ_EXPORT int
zmq_poller_add (void *poller, void *sock, void *user_data, short events);
ZMQ_EXPORT int zmq_poller_modify (void *poller, void *sock, short events);
ZMQ_EXPORT int zmq_poller_remove (void *poller, void *sock);
ZMQ_EXPORT int
zmq_poller_wait (void *poller, zmq_poller_event_t *event, long timeout);
ZMQ_EXPORT int zmq_poller_wait_all (void *poller,
                                    zmq_poller_event_t *events,
                                    int n_events,
                                    long timeout);
ZMQ_EXPORT int zmq_poller_fd (void *poller, zmq_fd_t *fd);
ZMQ_EXPORT int
zmq_poller_add_fd (void *poller, zmq_fd_t fd, void *user_data, short events);
ZMQ_EXPORT int zmq_poller_modify_fd (void *poller, zmq_fd_t fd, short events);
ZMQ_EXPORT int zmq_poller_remove_fd (void *poller, zmq_fd_t fd);

ZMQ_EXPORT int zmq_socket_get_peer_state (void *sock,
                                          const void *routing_id,
                                          size_t routing_id_size);

/* Draft monitoring event and versioned monitor. */
#define ZMQ_EVENT_PIPES_STATS 0x10000

#define ZMQ_CURRENT_EVENT_VERSION 1
#define ZMQ_CURRENT_EVENT_VERSION_DRAFT 2

#define ZMQ_EVENT_ALL_V1 ZMQ_EVENT_ALL
#define ZMQ_EVENT_ALL_V2 (ZMQ_EVENT_ALL_V1 | ZMQ_EVENT_PIPES_STATS)

ZMQ_EXPORT int zmq_socket_monitor_versioned (void *sock,
                                             const char *endpoint,
                                             uint64_t events,
                                             int event_version,
                                             int type);
ZMQ_EXPORT int zmq_socket_monitor_pipes_stats (void *sock);

/* zmq_poll() with a signal mask applied while waiting (like ppoll(2)).
   The mask is declared as "const sigset_t *" wherever <signal.h> provides
   sigset_t.  Windows has no sigset_t, and strict ISO C modes (e.g. gcc
   -std=c99 without _POSIX_C_SOURCE) hide it; there the parameter is an
   opaque "const void *", which has the same ABI and still accepts a
   sigset_t pointer from the caller. */
#if !defined _WIN32                                                           \
  && ((defined __GLIBC__ && defined __USE_POSIX)                              \
      || (!defined __GLIBC__                                                  \
          && (!defined __STRICT_ANSI__ || defined _POSIX_C_SOURCE             \
              || defined _POSIX_SOURCE || defined _XOPEN_SOURCE               \
              || defined _GNU_SOURCE || defined _DEFAULT_SOURCE               \
              || defined _BSD_SOURCE)))
ZMQ_EXPORT int zmq_ppoll (zmq_pollitem_t *items,
                          int nitems,
                          long timeout,
                          const sigset_t *sigmask);
#else
ZMQ_EXPORT int zmq_ppoll (zmq_pollitem_t *items,
                          int nitems,
                          long timeout,
                          const void *sigmask);
#endif

#endif /* ZMQ_BUILD_DRAFT_API */

#ifdef __cplusplus
}
#endif

/* ZMQ_EXPORT is for this header only. */
#undef ZMQ_EXPORT

#endif /* __ZMQ_H_INCLUDED__ */
