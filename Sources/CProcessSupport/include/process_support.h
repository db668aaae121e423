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

#endif
