#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
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
