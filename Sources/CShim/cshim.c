#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

int cshim_pipe_cloexec(int fds[2], int nonblocking) {
    return pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0));
}

int cshim_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int cshim_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int cshim_accept_cloexec(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int cshim_socket_cloexec(int domain, int type) { return socket(domain, type | SOCK_CLOEXEC, 0); }

int cshim_spawnattr_setup(posix_spawnattr_t *attr) {
    int rc = posix_spawnattr_init(attr);
    if (rc != 0) return rc;
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if ((rc = posix_spawnattr_setpgroup(attr, 0)) != 0) return rc;
    if ((rc = posix_spawnattr_setsigmask(attr, &empty)) != 0) return rc;
    if ((rc = posix_spawnattr_setsigdefault(attr, &all)) != 0) return rc;
    short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    return posix_spawnattr_setflags(attr, flags);
}

int cshim_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
#if defined(__GLIBC__) && ((__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions; (void)from;
    return 0;
#endif
}

int cshim_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
#if defined(__GLIBC__) && ((__GLIBC__ > 2) || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np(actions, path);
#else
    (void)actions; (void)path;
    return ENOSYS;
#endif
}

static int fill_sun(struct sockaddr_un *sun, const char *path) {
    size_t len = strlen(path);
    if (len >= sizeof(sun->sun_path)) { errno = ENAMETOOLONG; return -1; }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    return 0;
}

int cshim_connect_unix(int fd, const char *path) {
    struct sockaddr_un sun;
    if (fill_sun(&sun, path) != 0) return -1;
    return connect(fd, (struct sockaddr *)&sun, sizeof(sun));
}

int cshim_bind_unix(int fd, const char *path) {
    struct sockaddr_un sun;
    if (fill_sun(&sun, path) != 0) return -1;
    return bind(fd, (struct sockaddr *)&sun, sizeof(sun));
}

static int fill_sun_bytes(struct sockaddr_un *sun, const char *addr, size_t len, socklen_t *outlen) {
    if (len == 0 || len >= sizeof(sun->sun_path)) { errno = len == 0 ? EINVAL : ENAMETOOLONG; return -1; }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, addr, len);
    /* A path socket's address includes its terminating NUL; an abstract one is exactly its bytes. */
    *outlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (addr[0] == 0 ? 0 : 1));
    return 0;
}

int cshim_notify_bind(const char *addr, size_t len, int rcvbuf) {
    struct sockaddr_un sun;
    socklen_t sl;
    if (fill_sun_bytes(&sun, addr, len, &sl) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0) { int e = errno; close(fd); errno = e; return -1; }
    if (rcvbuf > 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (bind(fd, (struct sockaddr *)&sun, sl) != 0) { int e = errno; close(fd); errno = e; return -1; }
    return fd;
}

long cshim_notify_recv(int fd, unsigned char *buf, size_t cap, int *pid, unsigned int *uid, int *fds, int *ctrunc) {
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    union {
        struct cmsghdr align;
        char data[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data;
    msg.msg_controllen = sizeof(control.data);
    *pid = 0; *uid = (unsigned int)-1; *fds = 0; *ctrunc = 0;
    ssize_t n;
    do { n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (msg.msg_flags & MSG_CTRUNC) *ctrunc = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof(cred));
            *pid = cred.pid;
            *uid = cred.uid;
        } else if (c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int passed;
                memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(passed);
                (*fds)++;
            }
        }
    }
    return (long)n;
}

int cshim_notify_send(const char *addr, size_t len, const unsigned char *buf, size_t n, int pid, int passfd) {
    struct sockaddr_un sun;
    socklen_t sl;
    if (fill_sun_bytes(&sun, addr, len, &sl) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };
    union {
        struct cmsghdr align;
        char data[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &sun;
    msg.msg_namelen = sl;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    size_t used = 0;
    struct cmsghdr *c = NULL;
    if (pid > 0 || passfd >= 0) {
        msg.msg_control = control.data;
        msg.msg_controllen = sizeof(control.data);
        c = CMSG_FIRSTHDR(&msg);
    }
    if (pid > 0) {
        struct ucred cred = { .pid = pid, .uid = getuid(), .gid = getgid() };
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_CREDENTIALS;
        c->cmsg_len = CMSG_LEN(sizeof(cred));
        memcpy(CMSG_DATA(c), &cred, sizeof(cred));
        used += CMSG_SPACE(sizeof(cred));
        c = CMSG_NXTHDR(&msg, c);
    }
    if (passfd >= 0) {
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passfd, sizeof(int));
        used += CMSG_SPACE(sizeof(int));
    }
    if (msg.msg_control) msg.msg_controllen = used;
    ssize_t r;
    do { r = sendmsg(fd, &msg, MSG_NOSIGNAL); } while (r < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r < 0) { errno = e; return -1; }
    return 0;
}

int cshim_wifexited(int status) { return WIFEXITED(status); }
int cshim_wexitstatus(int status) { return WEXITSTATUS(status); }
int cshim_wifsignaled(int status) { return WIFSIGNALED(status); }
int cshim_wtermsig(int status) { return WTERMSIG(status); }
int cshim_errno(void) { return errno; }
void cshim_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }
int cshim_o_path(void) { return O_PATH; }
int cshim_at_empty_path(void) { return AT_EMPTY_PATH; }

#include <sys/signalfd.h>

int cshim_signalfd_block(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cshim_signalfd_take(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n != (ssize_t)sizeof(info)) return 0;
    return (int)info.ssi_signo;
}
