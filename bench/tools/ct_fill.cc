// ct-fill: section 3 of `make bench`. Creates --count conntrack entries in
// the current network namespace (run it with `ip netns exec GW`), fast:
// one ctnetlink IPCTNL_MSG_CT_NEW per entry through libnetfilter_conntrack
// (NFCT_Q_CREATE), about 8 us each, where the conntrack CLI takes ~2 ms.
//
// Entries are established TCP flows that no packet will ever match:
//   198.18.20.<1 + i / 60000>:<1025 + i % 60000> -> 198.18.21.1:80
// with --mark (default 0x1: outside proxygw-netd's default mask 0xffff0000,
// so netd must ignore them) and --timeout seconds (default 1800). They vanish
// with the namespace.
//
//   ct-fill [--count 100000] [--mark 0x1] [--timeout 1800]
// Prints {"created": N, "seconds": S}.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  unsigned long count = 100000, mark = 1, timeout = 1800;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    unsigned long v = std::strtoul(argv[i + 1], nullptr, 0);
    if (a == "--count") count = v;
    else if (a == "--mark") mark = v;
    else if (a == "--timeout") timeout = v;
    else {
      std::fprintf(stderr, "ct-fill: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (count > 60000UL * 250) {
    std::fprintf(stderr, "ct-fill: at most %lu entries\n", 60000UL * 250);
    return 2;
  }
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  if (h == nullptr) {
    std::perror("ct-fill: nfct_open");
    return 1;
  }
  nf_conntrack* ct = nfct_new();
  auto t0 = std::chrono::steady_clock::now();
  unsigned long created = 0;
  for (unsigned long i = 0; i < count; ++i) {
    char src[32];
    std::snprintf(src, sizeof src, "198.18.20.%lu", 1 + i / 60000);
    const std::uint32_t saddr = inet_addr(src), daddr = inet_addr("198.18.21.1");
    const std::uint16_t sport = htons(static_cast<std::uint16_t>(1025 + i % 60000)), dport = htons(80);
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_IPV4_SRC, saddr);
    nfct_set_attr_u32(ct, ATTR_IPV4_DST, daddr);
    nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_TCP);
    nfct_set_attr_u16(ct, ATTR_PORT_SRC, sport);
    nfct_set_attr_u16(ct, ATTR_PORT_DST, dport);
    nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, daddr);
    nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, saddr);
    nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
    nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, dport);
    nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, sport);
    nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
    nfct_set_attr_u32(ct, ATTR_STATUS, IPS_SEEN_REPLY | IPS_ASSURED);
    nfct_set_attr_u32(ct, ATTR_TIMEOUT, static_cast<std::uint32_t>(timeout));
    nfct_set_attr_u32(ct, ATTR_MARK, static_cast<std::uint32_t>(mark));
    if (nfct_query(h, NFCT_Q_CREATE, ct) != 0) {
      std::fprintf(stderr, "ct-fill: entry %lu: %s\n", i, std::strerror(errno));
      break;
    }
    ++created;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nfct_destroy(ct);
  nfct_close(h);
  std::printf("{\"created\": %lu, \"seconds\": %.3f}\n", created, s);
  return created == count ? 0 : 1;
}
