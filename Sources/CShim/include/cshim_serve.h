// Threads, limits and peers for long-running commands (serve), kept apart from cshim.h.
#ifndef READINESS_PROBE_CSHIM_SERVE_H
#define READINESS_PROBE_CSHIM_SERVE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// pthread_setattr_default_np with this stack size: every thread created with default attributes
/// (libdispatch's workers, which run Swift's tasks) gets it instead of RLIMIT_STACK (8 MiB).
/// Returns 0 or an errno.
int cshim_set_default_thread_stack(size_t bytes);
/// mallopt(M_ARENA_MAX, 1): every thread allocates from the main arena. glibc otherwise gives each
/// new thread an arena that reserves 64 MiB of address space (RLIMIT_AS counts it). Returns 0 or -1.
int cshim_single_malloc_arena(void);
/// Starts `count` threads with default attributes at once, then joins them: 0 when all started,
/// else pthread_create's errno. Shows whether the thread pool can start before anything relies on it.
int cshim_thread_preflight(int count);
/// Whether `bytes` more of address space can be mapped now (RLIMIT_AS): 0 or the errno.
int cshim_address_space_headroom(size_t bytes);
/// accept4(fd, ..., SOCK_CLOEXEC | SOCK_NONBLOCK), also returning the peer as a key of at most 16 bytes:
/// an IPv4 address (4 bytes, also for v4-mapped IPv6), an IPv6 /64 prefix (8 bytes), else 0 bytes.
int cshim_accept_peer(int fd, unsigned char key[16], int *keylen);

#ifdef __cplusplus
}
#endif
#endif
