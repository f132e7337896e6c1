// epoll, which Glibc's Swift module leaves out, for the load generator.
#include <sys/epoll.h>
