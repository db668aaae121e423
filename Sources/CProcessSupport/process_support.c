#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "process_support.h"

int consolegate_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int consolegate_spawn_add_closefrom(void *file_actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)file_actions, from);
}

int consolegate_so_peercred(void) {
    _Static_assert(sizeof(struct consolegate_ucred) == sizeof(struct ucred), "struct ucred layout");
    return SO_PEERCRED;
}

int consolegate_socketpair_cloexec(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

int consolegate_send_fd(int socket, int fd) {
    char byte = 'T';
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t sent;
    do { sent = sendmsg(socket, &message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent == 1 ? 0 : -1;
}

int consolegate_receive_fd(int socket, int *fd) {
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space };
    *fd = -1;
    ssize_t got;
    do { got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (got < 0 && errno == EINTR);
    if (got <= 0) return (int)got;
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&message);
    if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS && cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
        memcpy(fd, CMSG_DATA(cmsg), sizeof(int));
    }
    /* More than one descriptor, or a truncated control message: close what came, and say so. */
    if ((message.msg_flags & MSG_CTRUNC) || byte != 'T') {
        if (*fd >= 0) close(*fd);
        *fd = -1;
    }
    return 1;
}

int consolegate_child_signal_fd(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) return -1;
    return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

void consolegate_unblock_child_signal(void) {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

void consolegate_closefrom(int from) {
    closefrom(from);
}

int consolegate_die_with_parent(void) {
    return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

int consolegate_become_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

int consolegate_become_user(unsigned int uid, unsigned int gid) {
    gid_t groups[1] = { gid };
    if (setgroups(1, groups) != 0) return -1;
    if (setgid(gid) != 0) return -1;
    return setuid(uid);
}

int consolegate_no_new_privs_all_threads(void) {
    /* Already set at exec (systemd's NoNewPrivileges=, whose SystemCallFilter= also denies seccomp()): every
       thread inherited it. */
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog program = { .len = 1, .filter = &allow };
    long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &program);
    if (result > 0) { errno = EAGAIN; return -1; }  /* the id of a thread that could not be synchronised */
    return (int)result;
}

int consolegate_set_filesystem_ids(unsigned int uid, unsigned int gid) {
    setfsgid(gid);
    setfsuid(uid);
    /* Each call returns the previous id; asking again with an invalid id reads the current one. */
    return (unsigned int)setfsuid((uid_t)-1) == uid && (unsigned int)setfsgid((gid_t)-1) == gid ? 0 : -1;
}

int consolegate_can_regain_root(void) {
    return syscall(SYS_setresuid, -1, 0, -1) == 0 || syscall(SYS_setresgid, -1, 0, -1) == 0;
}
