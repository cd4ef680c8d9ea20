/* glibc facilities Swift's Glibc module does not export. */
#include <malloc.h>
#include <sys/epoll.h>
