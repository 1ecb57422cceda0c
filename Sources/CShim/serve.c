#define _GNU_SOURCE
#include "cshim_serve.h"
#include <errno.h>
#include <malloc.h>
#include <sys/mman.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

int cshim_single_malloc_arena(void) { return mallopt(M_ARENA_MAX, 1) == 1 ? 0 : -1; }

int cshim_set_default_thread_stack(size_t bytes) {
    pthread_attr_t attr;
    int rc = pthread_getattr_default_np(&attr);
    if (rc != 0) return rc;
    rc = pthread_attr_setstacksize(&attr, bytes);
    if (rc == 0) rc = pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
    return rc;
}

static pthread_mutex_t preflight_lock = PTHREAD_MUTEX_INITIALIZER;

static void *preflight_body(void *arg) {
    (void)arg;
    // Waits until every thread exists (the creator holds the lock), so they all exist at once.
    pthread_mutex_lock(&preflight_lock);
    pthread_mutex_unlock(&preflight_lock);
    return NULL;
}

int cshim_thread_preflight(int count) {
    pthread_t threads[16];
    if (count > 16) count = 16;
    int started = 0, rc = 0;
    pthread_mutex_lock(&preflight_lock);
    for (; started < count; started++) {
        rc = pthread_create(&threads[started], NULL, preflight_body, NULL);
        if (rc != 0) break;
    }
    pthread_mutex_unlock(&preflight_lock);
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    return rc;
}

int cshim_address_space_headroom(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return errno;
    munmap(p, bytes);
    return 0;
}

int cshim_accept_peer(int fd, unsigned char key[16], int *keylen) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int s = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    *keylen = 0;
    if (s < 0) return s;
    if (ss.ss_family == AF_INET) {
        memcpy(key, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        *keylen = 4;
    } else if (ss.ss_family == AF_INET6) {
        const unsigned char *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(key, a + 12, 4);
            *keylen = 4;
        } else {
            memcpy(key, a, 8);
            *keylen = 8;
        }
    }
    return s;
}
