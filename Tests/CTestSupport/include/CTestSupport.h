#ifndef C_TEST_SUPPORT_H
#define C_TEST_SUPPORT_H

#include <spawn.h>

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` on.
int test_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);

/// pipe2(fds, O_CLOEXEC).
int test_pipe_cloexec(int fds[2]);

#endif
