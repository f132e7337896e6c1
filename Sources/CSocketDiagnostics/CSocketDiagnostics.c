#include "CSocketDiagnostics.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int64_t csockdiag_tcp_owner(const void *local, const void *remote) {
    const struct sockaddr *local_address = local, *remote_address = remote;
    int family = local_address->sa_family;
    if (remote_address->sa_family != family || (family != AF_INET && family != AF_INET6)) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -1;
    // The kernel answers at once; a second bounds a kernel that does not.
    struct timeval timeout = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

    struct {
        struct nlmsghdr header;
        struct inet_diag_req_v2 request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.request.sdiag_family = (uint8_t)family;
    message.request.sdiag_protocol = IPPROTO_TCP;
    message.request.idiag_states = ~0U;
    if (family == AF_INET) {
        const struct sockaddr_in *source = local, *destination = remote;
        message.request.id.idiag_sport = source->sin_port;
        message.request.id.idiag_dport = destination->sin_port;
        memcpy(message.request.id.idiag_src, &source->sin_addr, sizeof source->sin_addr);
        memcpy(message.request.id.idiag_dst, &destination->sin_addr, sizeof destination->sin_addr);
    } else {
        const struct sockaddr_in6 *source = local, *destination = remote;
        message.request.id.idiag_sport = source->sin6_port;
        message.request.id.idiag_dport = destination->sin6_port;
        memcpy(message.request.id.idiag_src, &source->sin6_addr, sizeof source->sin6_addr);
        memcpy(message.request.id.idiag_dst, &destination->sin6_addr, sizeof destination->sin6_addr);
    }
    message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(fd, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)sizeof message) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    union {
        struct nlmsghdr header;
        char bytes[8192];
    } answer;
    ssize_t received;
    do {
        received = recv(fd, &answer, sizeof answer, 0);
    } while (received < 0 && errno == EINTR);
    int saved = errno;
    close(fd);
    if (received < 0) {
        errno = saved;
        return -1;
    }
    struct nlmsghdr *header = &answer.header;
    if (!NLMSG_OK(header, (size_t)received)) {
        errno = EPROTO;
        return -1;
    }
    if (header->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *error = NLMSG_DATA(header);
        errno = error->error < 0 ? -error->error : EPROTO;
        return -1;
    }
    if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
        errno = EPROTO;
        return -1;
    }
    const struct inet_diag_msg *socket = NLMSG_DATA(header);
    // The socket found must be the one asked about, and connected: TIME_WAIT and SYN_RECV entries report uid 0.
    int connected = socket->idiag_state == TCP_ESTABLISHED || socket->idiag_state == TCP_CLOSE_WAIT
        || socket->idiag_state == TCP_FIN_WAIT1 || socket->idiag_state == TCP_FIN_WAIT2;
    const struct inet_diag_sockid *asked = &message.request.id;
    if (!connected || socket->id.idiag_sport != asked->idiag_sport || socket->id.idiag_dport != asked->idiag_dport
        || memcmp(socket->id.idiag_src, asked->idiag_src, sizeof asked->idiag_src) != 0
        || memcmp(socket->id.idiag_dst, asked->idiag_dst, sizeof asked->idiag_dst) != 0) {
        errno = ESRCH;
        return -1;
    }
    return (int64_t)socket->idiag_uid;
}
