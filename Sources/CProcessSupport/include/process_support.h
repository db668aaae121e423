#ifndef CONSOLEGATE_PROCESS_SUPPORT_H
#define CONSOLEGATE_PROCESS_SUPPORT_H

/* GNU extensions Swift's Glibc module does not expose (it is built without _GNU_SOURCE). */

/* pipe2(fds, O_CLOEXEC) */
int consolegate_pipe_cloexec(int fds[2]);

/* posix_spawn_file_actions_addclosefrom_np: close every descriptor from `from` up in the child. */
int consolegate_spawn_add_closefrom(void *file_actions, int from);

#endif
