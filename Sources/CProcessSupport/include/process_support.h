#ifndef CONSOLEGATE_PROCESS_SUPPORT_H
#define CONSOLEGATE_PROCESS_SUPPORT_H

/* GNU extensions Swift's Glibc module does not expose (it is built without _GNU_SOURCE). */

/* pipe2(fds, O_CLOEXEC) */
int consolegate_pipe_cloexec(int fds[2]);

/* posix_spawn_file_actions_addclosefrom_np: close every descriptor from `from` up in the child. */
int consolegate_spawn_add_closefrom(void *file_actions, int from);

/* struct ucred, with its C layout, for reading SO_PEERCRED through SwiftNIO's socket option API. */
struct consolegate_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};

/* The SO_PEERCRED option name (a GNU extension). */
int consolegate_so_peercred(void);

/* socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): one per PAM transaction. */
int consolegate_socketpair_cloexec(int fds[2]);

/* Passes one descriptor over a Unix socket (SCM_RIGHTS) with a one-byte message; 0 on success. */
int consolegate_send_fd(int socket, int fd);

/* Receives what consolegate_send_fd sent: 1 and *fd (-1 when the message carried no single descriptor),
   0 at end of file, -1 on error. */
int consolegate_receive_fd(int socket, int *fd);

/* Blocks SIGCHLD and returns a non-blocking signalfd for it. */
int consolegate_child_signal_fd(void);
void consolegate_unblock_child_signal(void);

/* prctl(PR_SET_PDEATHSIG, SIGKILL): this process dies when its parent does. */
int consolegate_die_with_parent(void);

/* prctl(PR_SET_CHILD_SUBREAPER, 1): orphans below this process become its children, not init's. */
int consolegate_become_subreaper(void);

/* closefrom(3) */
void consolegate_closefrom(int from);

/* Permanently becomes uid/gid with no supplementary groups: setgroups, setgid, setuid, which glibc applies to
   every thread of the process. 0 on success, else -1 with errno. */
int consolegate_become_user(unsigned int uid, unsigned int gid);

/* no_new_privs on every thread: prctl sets it on the caller only, so an allow-all seccomp filter installed
   with SECCOMP_FILTER_FLAG_TSYNC copies it to the others. 0 on success, else -1 with errno. */
int consolegate_no_new_privs_all_threads(void);

/* This thread's file-system uid and gid (setfsuid/setfsgid): files are opened and created as that user.
   Returns 0 if both now hold those ids, else -1. */
int consolegate_set_filesystem_ids(unsigned int uid, unsigned int gid);

/* 1 if this thread could become uid 0 or gid 0 again (raw syscalls, this thread only), else 0. */
int consolegate_can_regain_root(void);

#endif
