/* ch_listen: a listening TCP socket on a free loopback port, for tests that script a peer or a server. */
#ifndef CH_LISTEN_H
#define CH_LISTEN_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Binds 127.0.0.1:0 and listens; sets *port. Returns the socket, or -1 (nothing left open). */
static inline int ch_test_listen(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, backlog) ||
      getsockname(fd, (struct sockaddr *)&sa, &l)) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

#endif /* CH_LISTEN_H */
