#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include "process_support.h"

int consolegate_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int consolegate_spawn_add_closefrom(void *file_actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)file_actions, from);
}
