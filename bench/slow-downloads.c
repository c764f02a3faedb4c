// Slow devices (benchmark scenario 3): <clients> concurrent downloads of one URL, each read at about
// <rate> bytes/s, opened in batches of 100 every 100 ms so that the listen backlog is not the test.
// With <read-seconds> > 0 each download is closed once that many seconds' worth is read (the quick
// run); otherwise it must arrive whole. Prints one JSON line (SlowResult in bench/run.ts).
//
// Why C and not Node: a device's TCP window is small (ESP-IDF's lwIP default, CONFIG_LWIP_TCP_WND_DEFAULT,
// is 5,760 bytes), so a server's writes to a slow device wait on TCP flow control. A Node client
// cannot size its socket's receive buffer; on loopback the kernel then grows it to megabytes and
// takes a whole 1.5 MB image at once however slowly the client reads, and the server never holds
// a slow download at all. Here every socket gets SO_RCVBUF before it connects.
//
// Usage: slow-downloads http://127.0.0.1:<port>/<path> <clients> <rate> <read-seconds> [<rcvbuf>]

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, SENDING, HEADERS, BODY, DONE };
enum outcome { PENDING, OK, NON2XX, FAILED };

struct conn {
  int fd;
  enum state state;
  enum outcome outcome;
  size_t sent;
  char head[8192];
  size_t head_len;
  long long expected; // Content-Length
  long long stop_at;  // body bytes after which the download is closed
  long long got;      // body bytes read
  double t0, last_data, end;
};

static const int BATCH = 100;
static const double BATCH_GAP_S = 0.1;
static const double STALL_S = 30; // nothing for this long: the download failed
static const size_t READ_PIECE = 16384;
// An ESP32's TCP segment (ESP-IDF's CONFIG_LWIP_TCP_MSS default). Loopback's own is about 64 KiB,
// and the server's send buffer grows with it: at that size it takes a whole image in one write.
static const int DEVICE_MSS = 1436;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(struct conn *c, enum outcome o) {
  if (c->state == DONE) return;
  c->outcome = o;
  c->state = DONE;
  c->end = now();
  close(c->fd);
  c->fd = -1;
}

static void open_conn(struct conn *c, const struct sockaddr_in *addr, int rcvbuf) {
  memset(c, 0, sizeof *c);
  c->t0 = c->last_data = now();
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) {
    c->state = DONE;
    c->outcome = FAILED;
    c->end = c->t0;
    return;
  }
  // Before connect(), so that the handshake already offers this window and this segment size.
  if (rcvbuf > 0) setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &DEVICE_MSS, sizeof DEVICE_MSS);
  if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 && errno != EINPROGRESS) {
    finish(c, FAILED);
    return;
  }
  c->state = CONNECTING;
}

// The status line and headers are in c->head[0..end); returns 0, or -1 if they are unusable.
static int parse_head(struct conn *c, size_t end) {
  int status = 0;
  if (sscanf(c->head, "HTTP/1.%*d %d", &status) != 1) return -1;
  if (status != 200) return status;
  c->expected = -1;
  for (char *line = strstr(c->head, "\r\n"); line && line < c->head + end; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "content-length:", 15) == 0) c->expected = strtoll(line + 17, NULL, 10);
  }
  return c->expected < 0 ? -1 : 200;
}

static void on_body(struct conn *c, long long n) {
  c->got += n;
  if (c->got >= c->stop_at && c->stop_at < c->expected) finish(c, OK);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s http://127.0.0.1:<port>/<path> <clients> <rate> <read-seconds> [<rcvbuf>]\n", argv[0]);
    return 2;
  }
  char host[64];
  int port = 0, path_at = 0;
  if (sscanf(argv[1], "http://%63[0-9.]:%d%n", host, &port, &path_at) != 2 || argv[1][path_at] != '/') {
    fprintf(stderr, "the URL must be http://<IPv4>:<port>/<path>, not %s\n", argv[1]);
    return 2;
  }
  const char *path = argv[1] + path_at;
  int clients = atoi(argv[2]);
  double rate = atof(argv[3]);
  double read_seconds = atof(argv[4]);
  int rcvbuf = argc > 5 ? atoi(argv[5]) : 5760;
  if (clients <= 0 || rate <= 0 || read_seconds < 0) {
    fprintf(stderr, "clients and rate must be above 0, read-seconds 0 or more\n");
    return 2;
  }

  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (rlim_t)clients + 64) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "not an IPv4 address: %s\n", host);
    return 2;
  }
  char request[1024];
  int request_len = snprintf(request, sizeof request,
                             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: ESP32 HTTP Client/1.0\r\nConnection: close\r\n\r\n", path, host, port);

  struct conn *conns = calloc((size_t)clients, sizeof *conns);
  struct pollfd *fds = calloc((size_t)clients, sizeof *fds);
  int *polled = calloc((size_t)clients, sizeof *polled);
  static char buf[65536];
  if (!conns || !fds || !polled) return 1;

  const double start = now();
  int opened = 0, done = 0;
  double next_batch = start;
  while (done < clients) {
    double t = now();
    while (opened < clients && t >= next_batch) {
      for (int i = 0; i < BATCH && opened < clients; i++, opened++) {
        open_conn(&conns[opened], &addr, rcvbuf);
        if (conns[opened].state == DONE) done++;
      }
      next_batch += BATCH_GAP_S;
    }

    // Ask only for what each connection may read now: a download ahead of its rate is not read, so
    // its receive buffer fills and TCP stops the server.
    int n = 0;
    for (int i = 0; i < opened; i++) {
      struct conn *c = &conns[i];
      if (c->state == DONE) continue;
      if (t - c->last_data > STALL_S) {
        finish(c, FAILED);
        done++;
        continue;
      }
      short events = 0;
      if (c->state == CONNECTING || c->state == SENDING) events = POLLOUT;
      else if (c->state == HEADERS || (c->t0 + (double)c->got / rate) <= t) events = POLLIN;
      if (!events) continue;
      fds[n] = (struct pollfd){.fd = c->fd, .events = events};
      polled[n++] = i;
    }
    if (poll(fds, (nfds_t)n, 5) < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }

    for (int k = 0; k < n; k++) {
      if (!fds[k].revents) continue;
      struct conn *c = &conns[polled[k]];
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          finish(c, FAILED);
          done++;
          continue;
        }
        c->state = SENDING;
      }
      if (c->state == SENDING) {
        ssize_t w = write(c->fd, request + c->sent, (size_t)request_len - c->sent);
        if (w < 0 && errno != EAGAIN) {
          finish(c, FAILED);
          done++;
          continue;
        }
        if (w > 0) c->sent += (size_t)w;
        if (c->sent == (size_t)request_len) c->state = HEADERS;
        continue;
      }
      if (c->state == HEADERS) {
        ssize_t r = read(c->fd, c->head + c->head_len, sizeof c->head - 1 - c->head_len);
        if (r <= 0) {
          if (r == 0 || errno != EAGAIN) {
            finish(c, FAILED);
            done++;
          }
          continue;
        }
        c->last_data = now();
        c->head_len += (size_t)r;
        c->head[c->head_len] = '\0';
        char *end = strstr(c->head, "\r\n\r\n");
        if (!end) {
          if (c->head_len == sizeof c->head - 1) {
            finish(c, FAILED);
            done++;
          }
          continue;
        }
        int status = parse_head(c, (size_t)(end - c->head));
        if (status != 200) {
          finish(c, status < 0 ? FAILED : NON2XX);
          done++;
          continue;
        }
        long long limit = (long long)(rate * read_seconds);
        c->stop_at = read_seconds > 0 && limit < c->expected ? limit : c->expected;
        c->state = BODY;
        on_body(c, (long long)(c->head + c->head_len - (end + 4)));
        if (c->state == DONE) done++;
        continue;
      }
      // BODY: up to what the rate allows by now, at least a piece's worth once allowed at all.
      size_t want = READ_PIECE;
      double allowed = rate * (now() - c->t0) - (double)c->got;
      if (allowed > (double)want) want = allowed > (double)sizeof buf ? sizeof buf : (size_t)allowed;
      ssize_t r = read(c->fd, buf, want);
      if (r < 0) {
        if (errno != EAGAIN) {
          finish(c, FAILED);
          done++;
        }
        continue;
      }
      if (r == 0) {
        finish(c, c->got == c->expected ? OK : FAILED);
        done++;
        continue;
      }
      c->last_data = now();
      on_body(c, r);
      if (c->state == DONE) done++;
    }
  }

  int ok = 0, non2xx = 0, failed = 0;
  long long bytes = 0;
  double min_rate = -1;
  for (int i = 0; i < clients; i++) {
    struct conn *c = &conns[i];
    ok += c->outcome == OK;
    non2xx += c->outcome == NON2XX;
    failed += c->outcome == FAILED;
    bytes += c->got;
    double s = c->end - c->t0;
    double r = s > 0 ? (double)c->got / s : 0;
    if (min_rate < 0 || r < min_rate) min_rate = r;
  }
  printf("{\"clients\":%d,\"ok\":%d,\"non2xx\":%d,\"failed\":%d,\"bytes\":%lld,\"seconds\":%.3f,\"minRate\":%.1f,\"rcvbuf\":%d}\n",
         clients, ok, non2xx, failed, bytes, now() - start, min_rate, rcvbuf);
  return 0;
}
