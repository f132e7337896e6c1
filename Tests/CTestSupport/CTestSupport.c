#define _GNU_SOURCE
#include "CTestSupport.h"
#include <fcntl.h>
#include <unistd.h>

int test_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int test_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
