// The project's only C: thin wrappers over _GNU_SOURCE functions that Swift's
// Glibc module does not import, and macros Swift cannot call.
#ifndef READINESS_PROBE_CSHIM_H
#define READINESS_PROBE_CSHIM_H

#include <sys/types.h>
#include <signal.h>
#include <spawn.h>
#include <poll.h>
#include "cshim_serve.h"

#ifdef __cplusplus
extern "C" {
#endif

/// pipe2(fds, O_CLOEXEC [| O_NONBLOCK]). Returns 0 or -1 with errno.
int cshim_pipe_cloexec(int fds[2], int nonblocking);
/// pidfd_open(pid, 0) via syscall(2). Returns an fd or -1 with errno.
int cshim_pidfd_open(pid_t pid);
/// prctl(PR_SET_CHILD_SUBREAPER, 1). Returns 0 or -1.
int cshim_set_child_subreaper(void);
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK).
int cshim_accept_cloexec(int fd);
/// socket(domain, type | SOCK_CLOEXEC, 0).
int cshim_socket_cloexec(int domain, int type);
/// Fills a posix_spawnattr_t: new process group 0, empty sigmask, default dispositions for all signals.
int cshim_spawnattr_setup(posix_spawnattr_t *attr);
/// posix_spawn_file_actions_addclosefrom_np(actions, from) where available; otherwise 0 (no-op).
int cshim_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
/// posix_spawn_file_actions_addchdir_np(actions, path) (glibc >= 2.29); otherwise ENOSYS.
int cshim_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// Connects a unix-domain stream socket to path (non-blocking connect). Returns 0, -1 with errno (EINPROGRESS allowed).
int cshim_connect_unix(int fd, const char *path);
/// Binds a unix socket to a path.
int cshim_bind_unix(int fd, const char *path);
/// sd_notify: a datagram unix socket (SOCK_CLOEXEC | SOCK_NONBLOCK) with SO_PASSCRED, bound to
/// `addr` (`len` bytes; a leading NUL byte is an abstract address). `rcvbuf` > 0 asks for that
/// receive buffer. Returns the fd or -1 with errno.
int cshim_notify_bind(const char *addr, size_t len, int rcvbuf);
/// One datagram from a notify socket, without blocking (MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC).
/// Returns the datagram's full length (may exceed `cap`: then it was truncated), or -1 with errno
/// (EAGAIN: none queued). `*pid`/`*uid` are the sender's SCM_CREDENTIALS (0/-1 when absent); every
/// SCM_RIGHTS fd is closed at once and counted in `*fds`; `*ctrunc` is 1 when control data was cut.
long cshim_notify_recv(int fd, unsigned char *buf, size_t cap, int *pid, unsigned int *uid, int *fds, int *ctrunc);
/// Sends one datagram to `addr` (`len` bytes; leading NUL = abstract) from a new socket, with
/// SCM_CREDENTIALS naming `pid` when pid > 0 (the kernel allows only one's own pid unless root),
/// and `passfd` >= 0 attached with SCM_RIGHTS. Returns 0 or -1 with errno.
int cshim_notify_send(const char *addr, size_t len, const unsigned char *buf, size_t n, int pid, int passfd);
/// Wait-status decoding (the W* macros are not imported into Swift).
int cshim_wifexited(int status);
int cshim_wexitstatus(int status);
int cshim_wifsignaled(int status);
int cshim_wtermsig(int status);
/// errno as a function (thread-local), for clarity at call sites.
int cshim_errno(void);
/// O_PATH (a _GNU_SOURCE flag Swift's Glibc module does not import).
int cshim_o_path(void);
/// AT_EMPTY_PATH.
int cshim_at_empty_path(void);
/// Ignore SIGPIPE in this process (sockets also use MSG_NOSIGNAL).
void cshim_ignore_sigpipe(void);
/// Blocks `signals` in the calling thread (threads it starts inherit that) and returns a
/// non-blocking, close-on-exec signalfd for them, or -1 with errno.
int cshim_signalfd_block(const int *signals, int count);
/// Reads one pending signal from a signalfd: its number, or 0 when none is pending.
int cshim_signalfd_take(int fd);

#ifdef __cplusplus
}
#endif
#endif
