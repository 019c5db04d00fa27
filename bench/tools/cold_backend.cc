// cold-backend: section 4 of `make bench`. A backend that becomes ready a
// known time after it starts, and says when: proxygw's static:cmd target runs
// it (`exec cold-backend ...`), the harness reads its stdout from the
// engine's state directory.
//
//   cold-backend --listen 198.18.100.1:8095 [--delay-ms 1000 | --delay-file F] [--body TEXT]
//
// Prints `start <unix ns>` first thing, sleeps --delay-ms (or the number of
// milliseconds written in --delay-file, read at start), binds and
// listens, prints `listening <unix ns>`, then answers every connection with
// one HTTP/1.0 response carrying --body (default "backend") and closes it.
// SIGTERM (proxygw's drain) ends it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {
long long NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

int main(int argc, char** argv) {
  long long start = NowNs();
  std::printf("start %lld\n", start);
  std::fflush(stdout);
  std::string listen_arg, body = "backend";
  long delay_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen") listen_arg = argv[i + 1];
    else if (a == "--delay-ms") delay_ms = std::atol(argv[i + 1]);
    else if (a == "--delay-file") {
      if (FILE* f = std::fopen(argv[i + 1], "r")) {
        if (std::fscanf(f, "%ld", &delay_ms) != 1) delay_ms = 1000;
        std::fclose(f);
      }
    }
    else if (a == "--body") body = argv[i + 1];
  }
  auto colon = listen_arg.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "usage: cold-backend --listen ADDR:PORT [--delay-ms N] [--body TEXT]\n");
    return 2;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(listen_arg.c_str() + colon + 1)));
  if (inet_pton(AF_INET, listen_arg.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "cold-backend: bad address %s\n", listen_arg.c_str());
    return 2;
  }
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::nanoseconds(start)) +
                                std::chrono::milliseconds(delay_ms));
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(s, 1024) != 0) {
    std::perror("cold-backend: bind/listen");
    return 1;
  }
  std::printf("listening %lld\n", NowNs());
  std::fflush(stdout);
  const std::string response = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size() + 1) +
                               "\r\nConnection: close\r\n\r\n" + body + "\n";
  for (;;) {
    int c = accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    char buf[4096];
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
    }
    ssize_t ignored = write(c, response.data(), response.size());
    (void)ignored;
    close(c);
  }
}
